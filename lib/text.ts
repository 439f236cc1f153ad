// Lists of problems shown as one line of text (a denial, a status entry, a node file's error, a log
// line). A hostile object brings 100 000 problems: the line shows the first few, each cut to a
// length, then how many more there are — the reader fixes the first ones first.

/** How many items a line shows, and how long each may be. */
const MAX_ITEMS_SHOWN = 20;
const MAX_ITEM_LENGTH = 2048;

/**
 * `a; b; …; and 5 more problems`: the first MAX_ITEMS_SHOWN items as `show` writes them (only those are
 * written), each cut to MAX_ITEM_LENGTH characters.
 */
export function joinFirst<T>(
  items: readonly T[],
  show: (item: T) => string,
  separator = '; ',
  noun = 'problem',
): string {
  const shown = items.slice(0, MAX_ITEMS_SHOWN).map((item) => {
    const s = show(item);
    return s.length <= MAX_ITEM_LENGTH ? s : `${s.slice(0, MAX_ITEM_LENGTH - 1)}…`;
  });
  const more = items.length - shown.length;
  return shown.join(separator) + (more > 0 ? `${separator}and ${more} more ${noun}${more === 1 ? '' : 's'}` : '');
}
