// Validation of catalog relays, memoised per object. The informer (and StaticCatalog.put) replace an
// object on every change and never mutate it, so the identity of the object is the cache key: no
// invalidation, and entries go with the objects they belong to.
import { validateRelay, type ValidationResult } from '../../relay/index.js';

const cache = new WeakMap<object, ValidationResult>();

export function validatedRelay(relay: object): ValidationResult {
  let v = cache.get(relay);
  if (!v) {
    v = validateRelay(relay);
    cache.set(relay, v);
  }
  return v;
}
