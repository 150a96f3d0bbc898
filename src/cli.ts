// Command-line entry: dispatches `nacl-router COMMAND ...` to src/commands/COMMAND.ts.
// `nacl-router FILE` (no command word) means `nacl-router run FILE`.
// Exit codes: 0 ok, 1 invalid configuration (or a failed run), 2 usage or I/O error.

export interface Command {
  /** One line for the command list. */
  summary: string;
  /** Full --help text. */
  help: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  run: () => import('./commands/run.js'),
  check: () => import('./commands/check.js'),
  show: () => import('./commands/show.js'),
  trace: () => import('./commands/trace.js'),
  ctl: () => import('./commands/ctl.js'),
  image: () => import('./commands/image.js'),
  boot: () => import('./commands/boot.js'),
};

const USAGE = `usage: nacl-router [run] FILE [options]     run the router on a NaCl file
       nacl-router COMMAND [args]            (nacl-router COMMAND --help for details)`;

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const lines = [USAGE, '', 'commands:'];
    for (const [name, load] of Object.entries(COMMANDS)) {
      const { command } = await load();
      lines.push(`  ${name.padEnd(8)} ${command.summary}`);
    }
    (first === undefined ? process.stderr : process.stdout).write(lines.join('\n') + '\n');
    return first === undefined ? 2 : 0;
  }
  if (first === '--version') {
    const { VERSION } = await import('./version.js');
    process.stdout.write(`nacl-router ${VERSION}\n`);
    return 0;
  }
  const known = Object.hasOwn(COMMANDS, first);
  const { command } = await (known ? COMMANDS[first] : COMMANDS.run)();
  const args = known ? rest : argv;
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  return command.run(args);
}
