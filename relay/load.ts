// Reading relays (and other objects) from YAML or JSON text: several documents per file, `---`
// separated; a `kind: List` is flattened. Parse errors name the document.
import { parseAllDocuments } from 'yaml';

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

export function parseDocuments(text: string, source = '(input)'): unknown[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  const out: unknown[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length > 0)
      throw new ParseError(`${source}: document ${i + 1}: ${doc.errors[0]!.message.split('\n')[0]}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && !Array.isArray(value) && (value as { kind?: unknown }).kind === 'List') {
      const items = (value as { items?: unknown }).items;
      if (Array.isArray(items)) for (const item of items) out.push(item);
      return;
    }
    out.push(value);
  });
  return out;
}
