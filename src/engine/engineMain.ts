// Entry of the engine child process (bundled to dist/engine.js). Started detached by EngineClient;
// one per user per machine. Arguments: --socket PATH, --model-idle-unload-ms N, --exit-idle-ms N,
// --ownership-check-ms N (see runEngineProcess.ts). It has no test hooks: the transport tests run
// their own entry with a fake backend.
import {UsageError} from "../common/errors";
import type {EngineBackend, EngineLogger} from "./EngineServer";
import {parseEngineProcessArguments, runEngineProcess} from "./runEngineProcess";

async function createEngineBackend(context: {logger: EngineLogger}): Promise<EngineBackend> {
    // Loaded on the first model request only, so node-llama-cpp is never loaded for a ping.
    const {Engine} = await import("./Engine.js");
    const {loadDefaultWorkspaceIndexer} = await import("./defaultWorkspaceIndexer.js");
    return new Engine({indexer: await loadDefaultWorkspaceIndexer(), log: (line) => context.logger.info(line)});
}

function main(): void {
    let engineArguments;
    try {
        engineArguments = parseEngineProcessArguments(process.argv.slice(2));
        if (engineArguments.rest.length > 0)
            throw new UsageError(`Unknown arguments: ${engineArguments.rest.join(" ")}`);
    } catch (error) {
        process.stderr.write(`kv-distill engine: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(2);
    }
    runEngineProcess({
        arguments: engineArguments,
        createBackend: createEngineBackend,
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
