import type { Figure } from '../lib/figures.js';

export async function main(_env: NodeJS.ProcessEnv, _log: (s: string) => void): Promise<Figure[]> {
  throw new Error('scale benchmark: not written yet');
}
