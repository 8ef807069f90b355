// Which API changes are additive: an interface that only gained optional members is a minor
// change (code written against the old shape still compiles, and implementers need not add
// anything); every other change to a declaration is major.
import ts from 'typescript';

/** @param {string} text */
function squash(text) {
  return text
    .replace(/\s+/g, ' ')
    .replace(/"/g, "'")
    .replace(/([{([]) | ([})\]])/g, '$1$2')
    .replace(/;$/, '');
}

/** @param {string} text */
function statements(text) {
  const file = ts.createSourceFile('api.d.ts', text, ts.ScriptTarget.Latest, true);
  return { file, statements: [...file.statements] };
}

/**
 * @param {ts.TypeElement} member
 * @param {ts.SourceFile} file
 */
function memberKey(member, file) {
  return member.name ? `${ts.SyntaxKind[member.kind]}:${member.name.getText(file)}` : null;
}

/**
 * True when `after` differs from `before` only by optional members added to interfaces.
 * @param {string} before
 * @param {string} after
 */
export function isOptionalExtension(before, after) {
  const old = statements(before);
  const now = statements(after);
  if (old.statements.length !== now.statements.length) return false;
  let extended = false;
  for (let i = 0; i < old.statements.length; i++) {
    const a = /** @type {ts.Statement} */ (old.statements[i]);
    const b = /** @type {ts.Statement} */ (now.statements[i]);
    if (squash(a.getText(old.file)) === squash(b.getText(now.file))) continue;
    if (!ts.isInterfaceDeclaration(a) || !ts.isInterfaceDeclaration(b)) return false;
    const head = (/** @type {ts.InterfaceDeclaration} */ d, /** @type {ts.SourceFile} */ f) =>
      squash(
        [d.name.getText(f), d.typeParameters?.map((p) => p.getText(f)).join(',') ?? '']
          .concat(d.heritageClauses?.map((h) => h.getText(f)) ?? [])
          .join('|'),
      );
    if (head(a, old.file) !== head(b, now.file)) return false;
    const newMembers = new Map();
    for (const member of b.members) {
      const key = memberKey(member, now.file);
      if (key === null) return false; // call or index signatures: compare as text only
      newMembers.set(key, member);
    }
    for (const member of a.members) {
      const key = memberKey(member, old.file);
      const match = key === null ? undefined : newMembers.get(key);
      if (!match || squash(member.getText(old.file)) !== squash(match.getText(now.file))) {
        return false;
      }
      newMembers.delete(key);
    }
    for (const member of newMembers.values()) {
      if (!(/** @type {{ questionToken?: unknown }} */ (member).questionToken)) return false;
    }
    extended = true;
  }
  return extended;
}
