// The body of the engine child process, shared by the shipped entry (engineMain.ts) and the
// transport tests' entry (which injects a fake backend): argument parsing, logging, signals, exit.
import {statSync} from "node:fs";
import * as path from "node:path";
import {readEnvironment} from "../common/environment";
import {UsageError} from "../common/errors";
import {ensurePrivateEngineDirectory, resolveEngineSocketLocation} from "./engineSocketLocation";
import {EngineServer, type EngineBackend, type EngineLogger, type EngineModelDownloader} from "./EngineServer";

export const DEFAULT_MODEL_IDLE_UNLOAD_MS = 10 * 60 * 1000;
export const DEFAULT_ENGINE_EXIT_IDLE_MS = 30 * 60 * 1000;
const forcedExitDelayMs = 10_000;

export type EngineProcessArguments = {
    /** --socket PATH; default: resolveEngineSocketLocation(). */
    socketPath: string | undefined;
    /** --model-idle-unload-ms N */
    modelIdleUnloadMs: number;
    /** --exit-idle-ms N */
    exitIdleMs: number;
    /** --ownership-check-ms N */
    ownershipCheckMs: number | undefined;
    /** Arguments this parser does not know, in order (an entry may take its own). */
    rest: string[];
};

export function parseEngineProcessArguments(argv: readonly string[]): EngineProcessArguments {
    const parsed: EngineProcessArguments = {socketPath: undefined, modelIdleUnloadMs: DEFAULT_MODEL_IDLE_UNLOAD_MS, exitIdleMs: DEFAULT_ENGINE_EXIT_IDLE_MS, ownershipCheckMs: undefined, rest: []};
    for (let index = 0; index < argv.length; index++) {
        const argument = argv[index]!;
        const takeValue = (): string => {
            const value = argv[++index];
            if (value === undefined)
                throw new UsageError(`${argument} needs a value`);
            return value;
        };
        const takeMilliseconds = (): number => {
            const value = takeValue();
            const number = Number(value);
            if (!/^\d+$/.test(value) || !Number.isSafeInteger(number))
                throw new UsageError(`${argument} needs a whole number of milliseconds, not "${value}"`);
            return number;
        };
        switch (argument) {
            case "--socket":
                parsed.socketPath = takeValue();
                break;
            case "--model-idle-unload-ms":
                parsed.modelIdleUnloadMs = takeMilliseconds();
                break;
            case "--exit-idle-ms":
                parsed.exitIdleMs = takeMilliseconds();
                break;
            case "--ownership-check-ms":
                parsed.ownershipCheckMs = takeMilliseconds();
                break;
            default:
                parsed.rest.push(argument);
        }
    }
    return parsed;
}

/** Lines to stderr, which the client points at engine.log. */
export function createStderrEngineLogger(): EngineLogger {
    const write = (level: string, message: string): void => {
        process.stderr.write(`${new Date().toISOString()} [${level}] ${message}\n`);
    };
    return {
        info: (message) => write("info", message),
        warn: (message) => write("warn", message),
        error: (message, error) => write("error", message + (error === undefined ? "" : `: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`))
    };
}

export type EngineProcessEntry = {
    arguments: EngineProcessArguments;
    createBackend(context: {logger: EngineLogger}): Promise<EngineBackend>;
    downloadModel: EngineModelDownloader;
};

/** Runs the engine until it closes; resolves the process exit code. */
export async function runEngineProcess(entry: EngineProcessEntry): Promise<number> {
    const logger = createStderrEngineLogger();
    const socketPath = entry.arguments.socketPath ?? resolveEngineSocketLocation(readEnvironment()).socketPath;
    if (process.platform !== "win32")
        await ensurePrivateEngineDirectory(path.dirname(socketPath));
    const server = await EngineServer.start({
        socketPath,
        createBackend: entry.createBackend,
        downloadModel: entry.downloadModel,
        modelIdleUnloadMs: entry.arguments.modelIdleUnloadMs,
        exitIdleMs: entry.arguments.exitIdleMs,
        ownershipCheckMs: entry.arguments.ownershipCheckMs,
        buildStamp: engineBuildStamp(process.argv[1]),
        logger
    });
    if (server === undefined)
        return 0;
    // Work is aborted on a signal or a fatal error; a backend that ignores the abort must not keep
    // the process alive.
    const forceExitLater = (): void => void setTimeout(() => process.exit(1), forcedExitDelayMs).unref();
    const onSignal = (signal: NodeJS.Signals): void => {
        forceExitLater();
        void server.close("signal", `Received ${signal}`);
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    process.once("SIGHUP", onSignal);
    const onFatal = (error: unknown): void => {
        logger.error("Unexpected failure in the engine", error);
        forceExitLater();
        void server.close("fatal-error", `Unexpected failure: ${error instanceof Error ? error.message : String(error)}`).finally(() => process.exit(1));
    };
    process.on("uncaughtException", onFatal);
    process.on("unhandledRejection", onFatal);
    const reason = await server.closed;
    logger.info(`Engine ${process.pid} exits (${reason})`);
    return reason === "fatal-error" ? 1 : 0;
}

/** The engine script's modification time: which of two installed builds is newer. */
export function engineBuildStamp(scriptPath: string | undefined): number {
    if (scriptPath === undefined)
        return 0;
    try {
        return statSync(scriptPath).mtimeMs;
    } catch {
        return 0;
    }
}
