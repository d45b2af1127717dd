// The `kv-distill` command line. Each subcommand lives in its own module and is loaded on demand.
import {KvDistillError, UsageError} from "../common/errors";
import {cliCommands} from "./cliCommands";

const usage = `Usage: kv-distill <command> [options]

Commands:
${cliCommands.map((command) => `  ${command.name.padEnd(14)}${command.summary}`).join("\n")}

Run "kv-distill <command> --help" for a command's options.`;

export async function runCli(argv: readonly string[]): Promise<number> {
    const [commandName, ...rest] = argv;
    if (commandName === undefined || commandName === "--help" || commandName === "-h") {
        process.stdout.write(usage + "\n");
        return commandName === undefined ? 2 : 0;
    }
    const command = cliCommands.find((candidate) => candidate.name === commandName);
    if (command === undefined) {
        process.stderr.write(`kv-distill: unknown command "${commandName}"\n\n${usage}\n`);
        return 2;
    }
    try {
        return await command.run(rest);
    } catch (error) {
        if (error instanceof UsageError) {
            process.stderr.write(`kv-distill ${command.name}: ${error.message}\n`);
            return 2;
        }
        if (error instanceof KvDistillError) {
            process.stderr.write(`kv-distill ${command.name}: ${error.message}\n`);
            return 1;
        }
        throw error;
    }
}

if (require.main === module) {
    runCli(process.argv.slice(2)).then(
        (exitCode) => {
            process.exitCode = exitCode;
        },
        (error: unknown) => {
            process.stderr.write(`kv-distill: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
            process.exitCode = 1;
        }
    );
}
