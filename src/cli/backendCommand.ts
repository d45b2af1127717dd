import {UsageError} from "../common/errors";
import {detectBackend} from "../engine/llamaBinding";

export async function runBackendCommand(args: readonly string[]): Promise<number> {
    const json = args.includes("--json");
    const unknown = args.filter((arg) => arg !== "--json");
    if (unknown.length > 0)
        throw new UsageError(`unexpected argument "${unknown[0]}"`);
    const report = await detectBackend();
    if (json)
        process.stdout.write(JSON.stringify(report) + "\n");
    else
        process.stdout.write(
            `llama.cpp ${report.llamaCppRelease} via node-llama-cpp ${report.nodeLlamaCppVersion}: ` +
            `${report.buildType} build, ${report.gpu === false ? "CPU" : report.gpu}\n` +
            `llama.cpp: ${report.description}\n`
        );
    return 0;
}
