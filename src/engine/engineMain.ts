// Entry of the engine child process (bundled to dist/engine.js). Started detached by EngineClient;
// one per user per machine. Arguments: --socket PATH, --model-idle-unload-ms N, --exit-idle-ms N,
// --ownership-check-ms N (see runEngineProcess.ts), --gpu auto|cpu|cuda|vulkan (the build it loads). It has no test hooks: the transport tests run
// their own entry with a fake backend.
import {UsageError} from "../common/errors";
import type {EngineBackend, EngineLogger} from "./EngineServer";
import type {GpuChoice} from "./llamaBinding";
import {parseEngineProcessArguments, runEngineProcess} from "./runEngineProcess";

/** The engine-wide options of this entry (`--gpu auto|cpu|cuda|vulkan`), from the arguments runEngineProcess leaves. */
export function parseEngineEntryArguments(rest: readonly string[]): {gpu: GpuChoice} {
    let gpu: GpuChoice = "auto";
    for (let index = 0; index < rest.length; index++) {
        const argument = rest[index]!;
        if (argument !== "--gpu")
            throw new UsageError(`Unknown arguments: ${rest.slice(index).join(" ")}`);
        const value = rest[++index];
        if (value === "auto" || value === "cuda" || value === "vulkan")
            gpu = value;
        else if (value === "cpu")
            gpu = false;
        else
            throw new UsageError(`--gpu must be auto, cpu, cuda or vulkan, not "${String(value)}"`);
    }
    return {gpu};
}

function main(): void {
    let engineArguments;
    let entryOptions: {gpu: GpuChoice};
    try {
        engineArguments = parseEngineProcessArguments(process.argv.slice(2));
        entryOptions = parseEngineEntryArguments(engineArguments.rest);
    } catch (error) {
        process.stderr.write(`kv-distill engine: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(2);
    }
    runEngineProcess({
        arguments: engineArguments,
        createBackend: async (context: {logger: EngineLogger}): Promise<EngineBackend> => {
            // Loaded on the first model request only, so node-llama-cpp is never loaded for a ping.
            const {Engine} = await import("./Engine.js");
            const {loadDefaultWorkspaceIndexer} = await import("./defaultWorkspaceIndexer.js");
            return new Engine({indexer: await loadDefaultWorkspaceIndexer(), gpu: entryOptions.gpu, log: (line) => context.logger.info(line)});
        },
        downloadModel: async (options, callbacks) => (await import("./modelDownloader.js")).downloadModel(options, callbacks)
    }).then(
        // Exit explicitly: native handles of the binding must not keep a retired engine alive.
        (exitCode) => process.exit(exitCode),
        (error: unknown) => {
            process.stderr.write(`kv-distill engine: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
            process.exit(1);
        }
    );
}

if (require.main === module)
    main();
