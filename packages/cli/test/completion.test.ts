import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

const dir = tempDir('cli-completion-');
const hasShell = (shell: string) => spawnSync(shell, ['-c', 'exit 0']).status === 0;

describe('agent-records completion', () => {
  it('completion bash prints a script that completes commands and their options in bash', async () => {
    const result = await runCli(['completion', 'bash']);
    expect(result.code).toBe(0);
    const script = path.join(dir.path, 'agent-records.bash');
    writeFileSync(script, result.stdout);
    const complete = (words: string) =>
      spawnSync(
        'bash',
        [
          '-c',
          `source "${script}"; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _agent_records; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8' },
      ).stdout.trim();
    expect(complete('agent-records st')).toBe('stats');
    expect(complete('agent-records cat --l')).toBe('--limit');
    expect(complete('agent-records tail -')).toContain('--follow');
    expect(complete('agent-records sessions --l')).toBe('--limit');
    expect(complete('agent-records sessions --a')).toBe('--after');
  });

  it('prints zsh and fish scripts that the shells parse, and refuses another shell', async () => {
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef agent-records/);
    expect(zsh.stdout).toContain("'stats:usage");
    const fish = await runCli(['completion', 'fish']);
    expect(fish.stdout).toContain('complete -c agent-records -n __fish_use_subcommand -a stats');
    expect(fish.stdout).toContain(
      "complete -c agent-records -n '__fish_seen_subcommand_from sessions' -l after -r",
    );
    expect(zsh.stdout).toMatch(/sessions\) _arguments .*'--limit\[/);
    for (const [shell, text] of [
      ['zsh', zsh.stdout],
      ['fish', fish.stdout],
    ] as const) {
      if (!hasShell(shell)) continue; // zsh and fish are not installed everywhere: the syntax check runs where they are
      const file = path.join(dir.path, `script.${shell}`);
      writeFileSync(file, text);
      expect(spawnSync(shell, ['-n', file]).status).toBe(0);
    }
    const other = await runCli(['completion', 'powershell']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('unknown shell; use one of bash, zsh, fish');
  });
});
