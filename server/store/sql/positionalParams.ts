// The store's SQL names its parameters `$1, $2, …` (PostgreSQL's way); SQLite's `?` are positional
// and each takes the next value. This rewrites one into the other: every `$n` becomes `?` and the
// values are reordered to follow the order of occurrence, so a `$n` may appear several times and
// in any order. `$` inside string literals, quoted identifiers and comments is left alone.

export interface PositionalSql {
  /** the SQL with `?` in place of each `$n` */
  sql: string;
  /** for each `?` in order, the index (0-based) of the value it takes */
  order: number[];
}

export function toPositional(sql: string): PositionalSql {
  let out = '';
  const order: number[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const skipTo = endOfQuotedOrComment(sql, i);
    if (skipTo > i) {
      out += sql.slice(i, skipTo);
      i = skipTo;
    } else if (c === '$' && /[0-9]/.test(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++;
      const n = Number(sql.slice(i + 1, j));
      if (n < 1) throw new Error(`SQL parameter $${n}: parameters are numbered from $1`);
      order.push(n - 1);
      out += '?';
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return { sql: out, order };
}

/** Where the string literal, quoted identifier or comment starting at `i` ends (just past it), or
 * `i` when none starts there. An unterminated one runs to the end of the text. */
function endOfQuotedOrComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"') {
    // a doubled quote ('it''s') is an escaped quote inside the literal
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === c) {
        if (sql[j + 1] === c) j += 2;
        else return j + 1;
      } else {
        j++;
      }
    }
    return sql.length;
  }
  if (c === '-' && sql[i + 1] === '-') {
    const end = sql.indexOf('\n', i);
    return end < 0 ? sql.length : end;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const end = sql.indexOf('*/', i + 2);
    return end < 0 ? sql.length : end + 2;
  }
  return i;
}

/** The values in the order the positional SQL takes them. As strict as PostgreSQL, so SQL tried
 * on SQLite only does not fail there later: every value given must be used and every `$n` given. */
export function reorderParams<V>(order: number[], params: readonly V[]): V[] {
  const expected = order.length ? Math.max(...order) + 1 : 0;
  if (params.length !== expected) throw new Error(`the SQL uses parameters up to $${expected} but ${params.length} value(s) were given`);
  return order.map((k) => params[k]!);
}
