import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { type CliIo, runGuarded } from '../io.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface CommandSpec {
  name: string;
  description: string;
  options: { flags: string[]; takesValue: boolean; description: string }[];
}

/**
 * The commands and options to complete, read from the program itself so the scripts never
 * drift from it. A command with subcommands (`blobs gc`) completes as `blobs` with the options
 * of its subcommands.
 */
function specsOf(program: Command): CommandSpec[] {
  return program.commands.map((command) => {
    const leaves = command.commands.length > 0 ? command.commands : [command];
    return {
      name: command.name(),
      description: command.description(),
      options: leaves.flatMap((leaf) =>
        leaf.options.map((option) => ({
          flags: [option.short, option.long].filter((f): f is string => !!f),
          takesValue: option.required || option.optional,
          description: option.description,
        })),
      ),
    };
  });
}

/** Text safe inside single quotes in every shell, without brackets (zsh's description syntax). */
const quoteSafe = (text: string) => text.replace(/['[\]:\\`$]/g, '').slice(0, 80);

function bash(specs: CommandSpec[]): string {
  const cases = specs
    .map((spec) => {
      const flags = [...spec.options.flatMap((o) => o.flags), '--help'].join(' ');
      const sub = spec.name === 'blobs' ? ' gc' : '';
      return `    ${spec.name}) opts="${flags}${sub}" ;;`;
    })
    .join('\n');
  return `# bash completion for agent-records: eval "$(agent-records completion bash)"
_agent_records() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local commands="${specs.map((s) => s.name).join(' ')}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "$commands --help --version" -- "$cur") )
    return 0
  fi
  local opts=""
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
  return 0
}
complete -o default -F _agent_records agent-records
`;
}

function zsh(specs: CommandSpec[]): string {
  const commands = specs.map((s) => `    '${s.name}:${quoteSafe(s.description)}'`).join('\n');
  const cases = specs
    .map((spec) => {
      const args = spec.options.flatMap((o) =>
        o.flags.map(
          (flag) => `'${flag}[${quoteSafe(o.description)}]${o.takesValue ? ':value:_files' : ''}'`,
        ),
      );
      return `    ${spec.name}) _arguments ${[...args, "'*:file:_files'"].join(' ')} ;;`;
    })
    .join('\n');
  return `#compdef agent-records
# zsh completion for agent-records: agent-records completion zsh > "\${fpath[1]}/_agent-records"
_agent_records() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  shift words
  (( CURRENT-- ))
  case $words[1] in
${cases}
  esac
}
compdef _agent_records agent-records
`;
}

function fish(specs: CommandSpec[]): string {
  const lines = [
    '# fish completion for agent-records: agent-records completion fish > ~/.config/fish/completions/agent-records.fish',
    'complete -c agent-records -f',
  ];
  for (const spec of specs) {
    lines.push(
      `complete -c agent-records -n __fish_use_subcommand -a ${spec.name} -d '${quoteSafe(spec.description)}'`,
    );
    const when = `-n '__fish_seen_subcommand_from ${spec.name}'`;
    lines.push(`complete -c agent-records ${when} -F`);
    for (const option of spec.options) {
      const names = option.flags
        .map((flag) => (flag.startsWith('--') ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`))
        .join(' ');
      lines.push(
        `complete -c agent-records ${when} ${names}${option.takesValue ? ' -r' : ''} -d '${quoteSafe(option.description)}'`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`, built from `program`'s commands and options. */
export function completionScript(shell: string, program: Command): string {
  const specs = specsOf(program);
  if (shell === 'bash') return bash(specs);
  if (shell === 'zsh') return zsh(specs);
  if (shell === 'fish') return fish(specs);
  throw new CliError(
    `completion ${JSON.stringify(shell)}: unknown shell; use one of ${SHELLS.join(', ')}`,
    EXIT.usage,
  );
}

/** `agent-records completion bash|zsh|fish`: prints the script on stdout. */
export async function runCompletion(
  args: { shell: string },
  io: CliIo,
  program: Command,
): Promise<number> {
  return runGuarded(io, async () => {
    io.out.write(completionScript(args.shell, program));
    return EXIT.ok;
  });
}
