// The extension's and the command line's way to the engine process: connects to the user's running
// engine or starts it (detached, so it outlives a closing window and other windows share it),
// sends typed requests, forwards progress, tokens and cancellation, and reports the engine's state.
// When the engine dies mid-request the caller gets EngineCrashedError; the next request starts a
// fresh engine.
import {spawn, type ChildProcess} from "node:child_process";
import {closeSync, openSync, readSync, renameSync, statSync} from "node:fs";
import * as net from "node:net";
import {raceWithAbort} from "../common/raceWithAbort";
import {readEnvironment} from "../common/environment";
import type {
    AskOptions,
    AskResult,
    CacheReport,
    DistillOptions,
    DistillProgress,
    DistillResult,
    EngineClientApi,
    EngineProcessState,
    EngineRequestCallbacks,
    ModelDownloadOptions,
    ModelDownloadProgress,
    ModelDownloadResult
} from "./engineApi";
import {
    DownloadConsentRequiredError,
    EngineBackendUnavailableError,
    EngineClientDisposedError,
    EngineCrashedError,
    EngineDrainingError,
    EngineProtocolError,
    EngineSocketDirectoryError,
    EngineStartError,
    EngineStoppedError,
    ModelDownloadError,
    ModelDownloadIntegrityError,
    ModelUriError,
    OperationCancelledError
} from "./engineProcessErrors";
import {ScoringAdapterError, UnsupportedScorerError} from "./engineErrors";
import {ensurePrivateEngineDirectory, resolveEngineSocketLocation, type EngineSocketLocation} from "./engineSocketLocation";
import {
    ModelArchitectureUnsupportedError,
    ModelFileCorruptError,
    ModelFileError,
    ModelFileMissingError,
    ModelFileNotGgufError,
    ModelFileTruncatedError,
    ModelFileUnreadableError,
    ModelFileUnsupportedVersionError
} from "./modelFileErrors";
import {
    ENGINE_PROTOCOL_VERSION,
    EngineMessageDecoder,
    encodeEngineMessage,
    engineResultGuards,
    isEngineServerMessage,
    reviveEngineError,
    type EngineClientMessage,
    type EngineGoodbyeMessage,
    type EngineHelloResult,
    type EngineMethod,
    type EngineParams,
    type EngineResult,
    type EngineServerMessage,
    type EngineServerState,
    type RevivableErrorClass
} from "./protocol";

export type EngineClientLogger = {
    info(message: string): void;
    warn(message: string): void;
    error(message: string, error?: unknown): void;
};

export type EngineClientOptions = {
    /** The engine script (dist/engine.js), run with this process's Node (Electron as Node in the editor). */
    enginePath: string;
    /** Who is connecting ("vscode", "cli"), for the engine's log. */
    clientName: string;
    logger?: EngineClientLogger;
    /** Default: resolveEngineSocketLocation(readEnvironment()). */
    location?: EngineSocketLocation;
    /** Unload the model after this long without model work; sent on connect, so it applies engine-wide. */
    modelIdleUnloadMs?: number;
    /**
     * Passed when this client starts the engine (`--gpu`): which patched llama.cpp build it loads. One process
     * holds one binary, so a running engine keeps its build until it is restarted.
     */
    gpu?: "auto" | "cpu" | "cuda" | "vulkan";
    /** Passed when this client starts the engine: exit after this long with no clients. */
    engineExitIdleMs?: number;
    /** How long to wait for a started engine to answer. Default 30 s. */
    startTimeoutMs?: number;
    /** Extra arguments for the engine script (the transport tests' entry takes its own). */
    engineArguments?: readonly string[];
    /** Default: process.execPath. */
    nodeExecutable?: string;
};

/** Error classes the engine may send back that the client rebuilds as themselves. */
const revivableErrorClasses: readonly RevivableErrorClass[] = [
    EngineCrashedError,
    EngineStoppedError,
    EngineStartError,
    EngineProtocolError,
    EngineDrainingError,
    EngineBackendUnavailableError,
    OperationCancelledError,
    UnsupportedScorerError,
    ScoringAdapterError,
    EngineSocketDirectoryError,
    DownloadConsentRequiredError,
    ModelUriError,
    ModelDownloadError,
    ModelDownloadIntegrityError,
    ModelFileError,
    ModelFileMissingError,
    ModelFileUnreadableError,
    ModelFileNotGgufError,
    ModelFileUnsupportedVersionError,
    ModelFileTruncatedError,
    ModelFileCorruptError,
    ModelArchitectureUnsupportedError
];

const helloTimeoutMs = 10_000;
const maxLogBytesBeforeRotation = 8 * 1024 * 1024;

type RequestCallbacks = {
    signal?: AbortSignal;
    onProgress?(progress: DistillProgress): void;
    onToken?(text: string): void;
    onDownloadProgress?(progress: ModelDownloadProgress): void;
};

type PendingRequest = {
    method: EngineMethod;
    callbacks: RequestCallbacks;
    resolve(value: unknown): void;
    reject(error: Error): void;
    cleanup(): void;
};

type ConnectionEvents = {
    onState(connection: EngineConnection, state: EngineServerState): void;
    onLog(level: "info" | "warn" | "error", message: string): void;
    onClose(connection: EngineConnection): void;
    crashError(connection: EngineConnection): Error;
};

/** One socket to the engine, with its in-flight requests. */
class EngineConnection {
    public hello: EngineHelloResult | undefined;
    public goodbye: EngineGoodbyeMessage | undefined;
    public closed = false;
    /** Set when the engine is retiring: no new requests go here, running ones finish. */
    public retired = false;
    private readonly pending = new Map<number, PendingRequest>();
    private readonly decoder = new EngineMessageDecoder();
    private nextRequestId = 1;

    public constructor(private readonly socket: net.Socket, private readonly events: ConnectionEvents) {
        socket.on("data", (chunk: Buffer) => this.onData(chunk));
        socket.on("error", () => {
            // The close event follows and carries the consequence.
        });
        socket.on("close", () => this.onClose());
    }

    public get pendingCount(): number {
        return this.pending.size;
    }

    public request<M extends EngineMethod>(method: M, params: EngineParams<M>, callbacks: RequestCallbacks = {}): Promise<EngineResult<M>> {
        if (this.closed)
            return Promise.reject(this.events.crashError(this));
        const id = this.nextRequestId++;
        return new Promise<EngineResult<M>>((resolve, reject) => {
            const onAbort = (): void => this.write({type: "cancel", id});
            callbacks.signal?.addEventListener("abort", onAbort, {once: true});
            this.pending.set(id, {
                method,
                callbacks,
                resolve: resolve as (value: unknown) => void,
                reject,
                cleanup: () => callbacks.signal?.removeEventListener("abort", onAbort)
            });
            this.write({type: "request", id, method, params} as EngineClientMessage);
        });
    }

    public close(): void {
        this.socket.end();
    }

    /** Rejects everything in flight (dispose). */
    public failAll(error: Error): void {
        for (const [id, request] of this.pending) {
            this.pending.delete(id);
            request.cleanup();
            request.reject(error);
        }
    }

    private write(message: EngineClientMessage): void {
        if (!this.closed && this.socket.writable)
            this.socket.write(encodeEngineMessage(message));
    }

    private onData(chunk: Buffer): void {
        let messages: unknown[];
        try {
            messages = this.decoder.push(chunk);
        } catch (error) {
            this.events.onLog("error", `The engine broke the protocol: ${(error as Error).message}`);
            this.socket.destroy();
            return;
        }
        for (const message of messages) {
            if (isEngineServerMessage(message))
                this.onMessage(message);
            else
                this.events.onLog("warn", `Ignored an unknown message from the engine: ${JSON.stringify(message).slice(0, 200)}`);
        }
    }

    private onMessage(message: EngineServerMessage): void {
        switch (message.type) {
            case "response": {
                const request = this.pending.get(message.id);
                if (request === undefined)
                    return;
                this.pending.delete(message.id);
                request.cleanup();
                if (!message.ok)
                    request.reject(reviveEngineError(message.error, revivableErrorClasses));
                else if (!(engineResultGuards[request.method] as (value: unknown) => boolean)(message.result))
                    request.reject(new EngineProtocolError(`The engine's result for "${request.method}" has the wrong shape`));
                else
                    request.resolve(message.result);
                return;
            }
            case "progress":
                this.invokeCallback(() => this.pending.get(message.id)?.callbacks.onProgress?.(message.progress));
                return;
            case "downloadProgress":
                this.invokeCallback(() => this.pending.get(message.id)?.callbacks.onDownloadProgress?.(message.progress));
                return;
            case "token":
                this.invokeCallback(() => this.pending.get(message.id)?.callbacks.onToken?.(message.text));
                return;
            case "state":
                this.events.onState(this, message.state);
                return;
            case "log":
                this.events.onLog(message.level, message.message);
                return;
            case "goodbye":
                this.goodbye = message;
                return;
        }
    }

    /** A caller's callback that throws must not break the connection that other requests share. */
    private invokeCallback(callback: () => void): void {
        try {
            callback();
        } catch (error) {
            this.events.onLog("error", `A request callback threw: ${error instanceof Error ? error.message : String(error)}`);
        }
    }

    private onClose(): void {
        if (this.closed)
            return;
        this.closed = true;
        if (this.pending.size > 0) {
            const error = this.goodbye !== undefined
                ? new EngineStoppedError(`The engine stopped (${this.goodbye.reason}: ${this.goodbye.message}) before answering`)
                : this.events.crashError(this);
            this.failAll(error);
        }
        this.events.onClose(this);
    }
}

export class EngineClient implements EngineClientApi {
    private readonly logger: EngineClientLogger;
    private readonly location: EngineSocketLocation;
    private readonly listeners = new Set<(state: EngineProcessState) => void>();
    private connection: EngineConnection | undefined;
    private connecting: Promise<EngineConnection | undefined> | undefined;
    private currentState: EngineProcessState = {kind: "stopped"};
    private disposed = false;
    private ownBuildStamp: number | undefined;
    private modelIdleUnloadMs: number | undefined;

    public constructor(private readonly options: EngineClientOptions) {
        this.logger = options.logger ?? {info: () => undefined, warn: () => undefined, error: () => undefined};
        this.location = options.location ?? resolveEngineSocketLocation(readEnvironment());
        this.modelIdleUnloadMs = options.modelIdleUnloadMs;
    }

    public get state(): EngineProcessState {
        return this.currentState;
    }

    /** The pid of the engine this client is connected to, if any. */
    public get enginePid(): number | undefined {
        return this.connection?.closed === false ? this.connection.hello?.pid : undefined;
    }

    public get socketLocation(): EngineSocketLocation {
        return this.location;
    }

    public async distill(options: DistillOptions, callbacks: EngineRequestCallbacks = {}): Promise<DistillResult & {report: CacheReport}> {
        return this.call("distill", options, callbacks);
    }

    public async ask(options: AskOptions, callbacks: EngineRequestCallbacks & {onToken?(text: string): void} = {}): Promise<AskResult> {
        return this.call("ask", options, callbacks);
    }

    public async getCacheReport(options: DistillOptions): Promise<CacheReport | undefined> {
        return (await this.call("getCacheReport", options, {})) ?? undefined;
    }

    public async clearCache(options: Pick<DistillOptions, "folders" | "cacheDir">): Promise<void> {
        await this.call("clearCache", {folders: options.folders, cacheDir: options.cacheDir}, {});
    }

    /** Unloads the model if an engine runs; never starts one for that. */
    public async unloadModel(): Promise<void> {
        await this.call("unloadModel", {}, {}, false);
    }

    /** Fetches an "hf:" model in the engine process (see modelDownloader.ts for the consent rule). */
    public async downloadModel(options: ModelDownloadOptions, callbacks: {onProgress?(progress: ModelDownloadProgress): void; signal?: AbortSignal} = {}): Promise<ModelDownloadResult> {
        return this.call("downloadModel", options, {...(callbacks.signal === undefined ? {} : {signal: callbacks.signal}), ...(callbacks.onProgress === undefined ? {} : {onDownloadProgress: callbacks.onProgress})});
    }

    public async ping(): Promise<{pid: number; uptimeMs: number}> {
        return this.call("ping", {}, {});
    }

    /** Asks the running engine (if any) to finish its work and exit; other clients reconnect later. */
    public async shutdownEngine(reason: string): Promise<void> {
        await this.call("shutdown", {reason}, {}, false);
    }

    /** Changes the engine's model idle unload time (a setting changed); applies at once if connected. */
    public async setModelIdleUnloadMs(milliseconds: number): Promise<void> {
        this.modelIdleUnloadMs = milliseconds;
        const connection = this.connection;
        if (connection !== undefined && !connection.closed)
            await connection.request("hello", this.helloParams());
    }

    public onDidChangeState(listener: (state: EngineProcessState) => void): {dispose(): void} {
        this.listeners.add(listener);
        return {dispose: () => this.listeners.delete(listener)};
    }

    /** Disconnects; the engine keeps running for other clients and exits on its own when idle. */
    public async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        const connection = this.connection;
        this.connection = undefined;
        if (connection !== undefined) {
            connection.failAll(new EngineClientDisposedError("The engine client was disposed"));
            connection.close();
        }
        this.setState({kind: "stopped"});
        this.listeners.clear();
    }

    // ---- Requests ----

    private async call<M extends EngineMethod>(method: M, params: EngineParams<M>, callbacks: RequestCallbacks, startEngine = true): Promise<EngineResult<M>> {
        for (let attempt = 0; ; attempt++) {
            if (this.disposed)
                throw new EngineClientDisposedError("The engine client was disposed");
            if (callbacks.signal?.aborted === true)
                throw new OperationCancelledError(method);
            const connection = await raceWithAbort(this.connect(startEngine), callbacks.signal, () => new OperationCancelledError(method));
            if (connection === undefined)
                return null as EngineResult<M>;
            try {
                return await connection.request(method, params, callbacks);
            } catch (error) {
                // A retiring engine refuses new work before running any of it: go to a fresh engine once.
                if (error instanceof EngineDrainingError && attempt === 0) {
                    this.retire(connection);
                    continue;
                }
                throw error;
            }
        }
    }

    private connect(startEngine: boolean): Promise<EngineConnection | undefined> {
        const current = this.connection;
        if (current !== undefined && !current.closed && !current.retired)
            return Promise.resolve(current);
        if (this.connecting === undefined) {
            const attempt = this.establishConnection(startEngine);
            this.connecting = attempt;
            void attempt.finally(() => {
                if (this.connecting === attempt)
                    this.connecting = undefined;
            }).catch(() => undefined);
        }
        return this.connecting;
    }

    private async establishConnection(startEngine: boolean): Promise<EngineConnection | undefined> {
        try {
            await ensurePrivateEngineDirectory(this.location.directory);
            const existing = await this.tryConnect();
            if (existing !== undefined && (await this.handshake(existing, true)))
                return existing;
            if (!startEngine)
                return undefined;
            return await this.startEngineAndConnect();
        } catch (error) {
            if (!this.disposed)
                this.setState({kind: "crashed", message: (error as Error).message});
            throw error;
        }
    }

    private async startEngineAndConnect(): Promise<EngineConnection> {
        this.setState({kind: "starting"});
        const child = this.spawnEngine();
        let exit: {code: number | null; signal: NodeJS.Signals | null; error?: Error} | undefined;
        child.once("exit", (code, signal) => (exit ??= {code, signal}));
        child.once("error", (error) => (exit ??= {code: null, signal: null, error}));
        const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000);
        let delayMs = 25;
        while (Date.now() < deadline) {
            if (this.disposed)
                throw new EngineClientDisposedError("The engine client was disposed");
            const connection = await this.tryConnect();
            if (connection !== undefined && (await this.handshake(connection, false)))
                return connection;
            // Exit code 0 before listening means another engine won the race: keep trying to reach it.
            if (exit !== undefined && exit.code !== 0)
                throw new EngineStartError(
                    `The engine process exited (${exit.error?.message ?? (exit.signal ?? `code ${exit.code}`)}) before it took requests. ${readLogTail(this.location.logPath)}`,
                    this.location.logPath,
                    exit.error === undefined ? undefined : {cause: exit.error}
                );
            await sleep(delayMs);
            delayMs = Math.min(delayMs * 2, 250);
        }
        throw new EngineStartError(`The engine did not answer within ${this.options.startTimeoutMs ?? 30_000} ms. ${readLogTail(this.location.logPath)}`, this.location.logPath);
    }

    private spawnEngine(): ChildProcess {
        rotateLog(this.location.logPath);
        const logFd = openSync(this.location.logPath, "a", 0o600);
        try {
            const engineArguments = [this.options.enginePath, "--socket", this.location.socketPath];
            if (this.modelIdleUnloadMs !== undefined)
                engineArguments.push("--model-idle-unload-ms", String(this.modelIdleUnloadMs));
            if (this.options.gpu !== undefined)
                engineArguments.push("--gpu", this.options.gpu);
            if (this.options.engineExitIdleMs !== undefined)
                engineArguments.push("--exit-idle-ms", String(this.options.engineExitIdleMs));
            engineArguments.push(...(this.options.engineArguments ?? []));
            // The environment is passed through untouched; ELECTRON_RUN_AS_NODE makes the editor's
            // Electron binary behave as plain Node.
            const child = spawn(this.options.nodeExecutable ?? process.execPath, engineArguments, {
                env: {...process.env, ELECTRON_RUN_AS_NODE: "1"},
                detached: true,
                stdio: ["ignore", logFd, logFd],
                windowsHide: true
            });
            child.unref();
            this.logger.info(`Started the engine process (pid ${child.pid ?? "?"}): ${this.options.enginePath}; log: ${this.location.logPath}`);
            return child;
        } finally {
            closeSync(logFd);
        }
    }

    /** Connects to the socket; undefined when no engine listens there (missing or stale socket). */
    private tryConnect(): Promise<EngineConnection | undefined> {
        return new Promise((resolve, reject) => {
            const socket = net.connect(this.location.socketPath);
            const onError = (error: NodeJS.ErrnoException): void => {
                socket.destroy();
                if (error.code === "ENOENT" || error.code === "ECONNREFUSED" || error.code === "ENOTSOCK")
                    resolve(undefined);
                else
                    reject(new EngineStartError(`Cannot connect to the engine at ${this.location.socketPath}: ${error.message}`, this.location.logPath, {cause: error}));
            };
            socket.once("error", onError);
            socket.once("connect", () => {
                socket.off("error", onError);
                resolve(new EngineConnection(socket, {
                    onState: (connection, state) => {
                        if (connection === this.connection)
                            this.setState(toProcessState(state));
                    },
                    onLog: (level, message) => this.logger[level](`[engine] ${message}`),
                    onClose: (connection) => this.onConnectionClosed(connection),
                    crashError: (connection) => this.crashError(connection)
                }));
            });
        });
    }

    /**
     * Says hello. Returns false (and retires the engine) when it runs an older build than ours and
     * `allowTakeover`: the caller then starts a fresh engine while the old one finishes its work.
     */
    private async handshake(connection: EngineConnection, allowTakeover: boolean): Promise<boolean> {
        const hello = await withTimeout(
            connection.request("hello", this.helloParams()),
            helloTimeoutMs,
            () => {
                connection.close();
                return new EngineStartError(`The engine at ${this.location.socketPath} did not answer hello within ${helloTimeoutMs} ms`, this.location.logPath);
            }
        );
        connection.hello = hello;
        const ownStamp = this.buildStamp();
        if (allowTakeover && ownStamp > 0 && hello.buildStamp > 0 && hello.buildStamp < ownStamp) {
            this.logger.info(`The running engine (pid ${hello.pid}) is an older build; asking it to retire and starting a new one`);
            await connection.request("shutdown", {reason: "a client with a newer engine build connected"});
            connection.retired = true;
            connection.close();
            return false;
        }
        if (this.disposed) {
            connection.close();
            throw new EngineClientDisposedError("The engine client was disposed");
        }
        this.connection = connection;
        this.logger.info(`Connected to the engine (pid ${hello.pid}, ${hello.clients} client(s))`);
        this.setState(toProcessState(hello.state));
        return true;
    }

    private helloParams(): EngineParams<"hello"> {
        return {
            protocolVersion: ENGINE_PROTOCOL_VERSION,
            clientName: this.options.clientName,
            clientPid: process.pid,
            ...(this.modelIdleUnloadMs === undefined ? {} : {modelIdleUnloadMs: this.modelIdleUnloadMs})
        };
    }

    private retire(connection: EngineConnection): void {
        connection.retired = true;
        if (this.connection === connection)
            this.connection = undefined;
    }

    private onConnectionClosed(connection: EngineConnection): void {
        if (connection !== this.connection)
            return;
        this.connection = undefined;
        if (this.disposed)
            return;
        if (connection.goodbye !== undefined) {
            this.logger.info(`The engine stopped (${connection.goodbye.reason}): ${connection.goodbye.message}`);
            this.setState({kind: "stopped"});
        } else {
            const message = `The engine process (pid ${connection.hello?.pid ?? "?"}) stopped unexpectedly; the next request restarts it`;
            this.logger.error(`${message}. ${readLogTail(this.location.logPath)}`);
            this.setState({kind: "crashed", message});
        }
    }

    private crashError(connection: EngineConnection): Error {
        const pid = connection.hello?.pid;
        return new EngineCrashedError(
            `The engine process (pid ${pid ?? "?"}) stopped unexpectedly while working; the next request restarts it. See ${this.location.logPath}`,
            pid,
            this.location.logPath
        );
    }

    private buildStamp(): number {
        if (this.ownBuildStamp === undefined) {
            try {
                this.ownBuildStamp = statSync(this.options.enginePath).mtimeMs;
            } catch {
                this.ownBuildStamp = 0;
            }
        }
        return this.ownBuildStamp;
    }

    private setState(state: EngineProcessState): void {
        if (JSON.stringify(state) === JSON.stringify(this.currentState))
            return;
        this.currentState = state;
        for (const listener of [...this.listeners]) {
            try {
                listener(state);
            } catch (error) {
                this.logger.error("An engine state listener failed", error);
            }
        }
    }
}

function toProcessState(state: EngineServerState): EngineProcessState {
    if (state.kind === "busy")
        return {kind: "busy", operation: state.operation};
    return state.modelPath === undefined ? {kind: "ready", modelLoaded: state.modelLoaded} : {kind: "ready", modelLoaded: state.modelLoaded, modelPath: state.modelPath};
}

/** Keeps engine.log from growing without bound: one previous generation is kept. */
function rotateLog(logPath: string): void {
    try {
        if (statSync(logPath).size > maxLogBytesBeforeRotation)
            renameSync(logPath, logPath + ".1");
    } catch {
        // No log yet, or another client rotated it first.
    }
}

/** The last lines of the engine's log, for error messages about a failed start or a crash. */
function readLogTail(logPath: string, maxBytes = 2048): string {
    try {
        const size = statSync(logPath).size;
        const start = Math.max(0, size - maxBytes);
        const buffer = Buffer.alloc(size - start);
        const fd = openSync(logPath, "r");
        try {
            readSync(fd, buffer, 0, buffer.length, start);
        } finally {
            closeSync(fd);
        }
        const lines = buffer.toString("utf8").split("\n").filter((line) => line.trim() !== "").slice(-6);
        return lines.length === 0 ? `The log ${logPath} is empty.` : `Last lines of ${logPath}:\n${lines.join("\n")}`;
    } catch {
        return `No log at ${logPath}.`;
    }
}


function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
        promise.then(
            (value) => {
                clearTimeout(timer);
                resolve(value);
            },
            (error: unknown) => {
                clearTimeout(timer);
                reject(error instanceof Error ? error : new Error(String(error)));
            }
        );
    });
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
