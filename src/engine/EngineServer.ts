// The engine process's server: owns the per-user socket, serves any number of clients (editor
// windows, the command line), runs model work one job at a time, forwards cancellation into
// AbortSignals, unloads the model when idle and exits when nobody has used it for a while.
import {chmod, link, rename, stat, unlink} from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import type {
    AskOptions,
    AskResult,
    CacheReport,
    DistillOptions,
    DistillProgress,
    DistillResult,
    ModelDownloadOptions,
    ModelDownloadProgress,
    ModelDownloadResult
} from "./engineApi";
import {EngineBackendUnavailableError, EngineDrainingError, EngineProtocolError, OperationCancelledError} from "./engineProcessErrors";
import {
    ENGINE_PROTOCOL_VERSION,
    EngineMessageDecoder,
    encodeEngineMessage,
    engineParamsGuards,
    isEngineCancelMessage,
    isEngineRequestEnvelope,
    serializeEngineError,
    type EngineGoodbyeReason,
    type EngineHelloResult,
    type EngineMethod,
    type EngineParams,
    type EngineServerMessage,
    type EngineServerState
} from "./protocol";

/** The model work the server runs: the Engine class's methods (src/engine/Engine.ts). */
export interface EngineBackend {
    distill(options: DistillOptions, callbacks: {onProgress?(progress: DistillProgress): void; signal?: AbortSignal}): Promise<DistillResult & {report: CacheReport}>;
    ask(options: AskOptions, callbacks: {onProgress?(progress: DistillProgress): void; onToken?(text: string): void; signal?: AbortSignal}): Promise<AskResult>;
    getCacheReport(options: DistillOptions): Promise<CacheReport | undefined>;
    clearCache(options: Pick<DistillOptions, "folders" | "cacheDir">): Promise<void>;
    unloadModel(): Promise<void>;
    dispose(): Promise<void>;
}

export type EngineLogger = {
    info(message: string): void;
    warn(message: string): void;
    error(message: string, error?: unknown): void;
};

export type EngineModelDownloader = (
    options: ModelDownloadOptions,
    callbacks: {onProgress?(progress: ModelDownloadProgress): void; signal?: AbortSignal}
) => Promise<ModelDownloadResult>;

export type EngineServerOptions = {
    socketPath: string;
    /** Called on the first model request, so that node-llama-cpp loads only when needed. */
    createBackend(context: {logger: EngineLogger}): Promise<EngineBackend>;
    downloadModel: EngineModelDownloader;
    /** Unload the model after this long without model work. */
    modelIdleUnloadMs: number;
    /** Exit after this long with no client connected and no work. */
    exitIdleMs: number;
    /** How often to check that the socket path still leads to this engine. */
    ownershipCheckMs?: number;
    /** Modification time of the engine script, reported in hello. */
    buildStamp: number;
    /** The process log (the engine's stderr, which the client points at engine.log). */
    logger: EngineLogger;
};

type ClientConnection = {
    serial: number;
    name: string;
    socket: net.Socket;
    decoder: EngineMessageDecoder;
    jobs: Map<number, Job>;
};

type Job = {
    /** Undefined for the engine's own jobs (idle unload). */
    connection: ClientConnection | undefined;
    requestId: number;
    method: EngineMethod;
    modelPath: string | undefined;
    abortController: AbortController;
    run(signal: AbortSignal): Promise<unknown>;
};

/** Runs jobs one at a time, in order. */
class SerialJobQueue {
    private readonly waiting: Job[] = [];
    private runningJob: Job | undefined;
    private idleWaiters: Array<() => void> = [];

    public constructor(private readonly execute: (job: Job) => Promise<void>, private readonly onChange: () => void) {}

    public get running(): Job | undefined {
        return this.runningJob;
    }

    public get waitingCount(): number {
        return this.waiting.length;
    }

    public get idle(): boolean {
        return this.runningJob === undefined && this.waiting.length === 0;
    }

    public enqueue(job: Job): void {
        this.waiting.push(job);
        this.pump();
    }

    /** Takes a job out before it starts; false when it already runs (or ran). */
    public removeWaiting(job: Job): boolean {
        const index = this.waiting.indexOf(job);
        if (index === -1)
            return false;
        this.waiting.splice(index, 1);
        this.onChange();
        this.notifyIdle();
        return true;
    }

    public whenIdle(): Promise<void> {
        if (this.idle)
            return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }

    private pump(): void {
        if (this.runningJob !== undefined)
            return;
        const job = this.waiting.shift();
        if (job === undefined) {
            this.onChange();
            this.notifyIdle();
            return;
        }
        this.runningJob = job;
        this.onChange();
        void this.execute(job).finally(() => {
            this.runningJob = undefined;
            this.pump();
        });
    }

    private notifyIdle(): void {
        if (!this.idle)
            return;
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters)
            resolve();
    }
}

const modelMethods: ReadonlySet<EngineMethod> = new Set(["distill", "ask", "getCacheReport", "clearCache", "unloadModel"]);

export class EngineServer {
    /** The logger the backend gets: the process log plus a copy to every connected client. */
    public readonly logger: EngineLogger;
    /** Settles with the reason once the server has closed and the backend is disposed. */
    public readonly closed: Promise<EngineGoodbyeReason>;

    private readonly server = net.createServer();
    private readonly clients = new Set<ClientConnection>();
    private readonly modelQueue: SerialJobQueue;
    private readonly downloadQueue: SerialJobQueue;
    private readonly startedAt = new Date();
    private resolveClosed!: (reason: EngineGoodbyeReason) => void;
    private backendPromise: Promise<EngineBackend> | undefined;
    private socketInode: number | undefined;
    private connectionSerial = 0;
    private modelIdleUnloadMs: number;
    private modelLoaded = false;
    private loadedModelPath: string | undefined;
    private lastBroadcastState = "";
    private unloadTimer: NodeJS.Timeout | undefined;
    private exitTimer: NodeJS.Timeout | undefined;
    private ownershipTimer: NodeJS.Timeout | undefined;
    private closing: Promise<void> | undefined;

    private constructor(private readonly options: EngineServerOptions) {
        this.modelIdleUnloadMs = options.modelIdleUnloadMs;
        this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
        this.modelQueue = new SerialJobQueue((job) => this.executeJob(job), () => this.onQueueChange());
        this.downloadQueue = new SerialJobQueue((job) => this.executeJob(job), () => this.onQueueChange());
        this.logger = {
            info: (message) => {
                options.logger.info(message);
                this.broadcast({type: "log", level: "info", message});
            },
            warn: (message) => {
                options.logger.warn(message);
                this.broadcast({type: "log", level: "warn", message});
            },
            error: (message, error) => {
                options.logger.error(message, error);
                const detail = error === undefined ? "" : `: ${error instanceof Error ? error.message : String(error)}`;
                this.broadcast({type: "log", level: "error", message: message + detail});
            }
        };
        this.server.on("connection", (socket) => this.acceptConnection(socket));
        this.server.on("error", (error) => options.logger.error("Engine socket error", error));
    }

    /**
     * Claims the socket and starts serving. Resolves undefined when another live engine already
     * owns the socket (this process should then exit quietly).
     */
    public static async start(options: EngineServerOptions): Promise<EngineServer | undefined> {
        const server = new EngineServer(options);
        if (!(await server.claimSocket()))
            return undefined;
        server.ownershipTimer = setInterval(() => void server.checkSocketOwnership(), options.ownershipCheckMs ?? 5000);
        server.ownershipTimer.unref();
        server.maybeScheduleExit();
        options.logger.info(`Engine ${process.pid} listening on ${options.socketPath} (unload model after ${options.modelIdleUnloadMs} ms idle, exit after ${options.exitIdleMs} ms without clients)`);
        return server;
    }

    /**
     * Stops taking work and closes: running and queued jobs finish first (they are aborted for
     * "signal" and "fatal-error"), then every client gets a goodbye and the backend is disposed.
     */
    public close(reason: EngineGoodbyeReason, message: string): Promise<void> {
        this.closing ??= this.closeNow(reason, message);
        return this.closing;
    }

    private async closeNow(reason: EngineGoodbyeReason, message: string): Promise<void> {
        this.options.logger.info(`Engine closing (${reason}): ${message}`);
        clearTimeout(this.unloadTimer);
        clearTimeout(this.exitTimer);
        clearInterval(this.ownershipTimer);
        // Free the socket path at once so that a new engine can start while this one finishes.
        await new Promise<void>((resolve) => {
            this.server.close(() => resolve());
            // close() waits for connections; they end below, after the goodbye.
            setImmediate(resolve);
        });
        await this.unlinkSocketIfOurs();
        if (reason === "signal" || reason === "fatal-error") {
            for (const connection of this.clients)
                for (const job of connection.jobs.values())
                    job.abortController.abort();
        }
        await Promise.all([this.modelQueue.whenIdle(), this.downloadQueue.whenIdle()]);
        const goodbye: EngineServerMessage = {type: "goodbye", reason, message};
        await Promise.all([...this.clients].map((connection) => this.endConnection(connection, goodbye)));
        if (this.backendPromise !== undefined) {
            try {
                const backend = await this.backendPromise;
                await backend.dispose();
            } catch (error) {
                this.options.logger.error("Disposing the engine backend failed", error);
            }
        }
        this.resolveClosed(reason);
    }

    private endConnection(connection: ClientConnection, goodbye: EngineServerMessage): Promise<void> {
        return new Promise((resolve) => {
            if (connection.socket.destroyed) {
                resolve();
                return;
            }
            const timer = setTimeout(() => connection.socket.destroy(), 1000);
            connection.socket.once("close", () => {
                clearTimeout(timer);
                resolve();
            });
            connection.socket.end(encodeEngineMessage(goodbye));
        });
    }

    // ---- Socket ownership ----

    /**
     * Listens on a private temporary name, then hard-links it to the socket path, which fails if the
     * path exists: so two engines starting at once never both win. An existing path that nobody
     * answers on is a stale socket of a dead engine and is replaced atomically with rename().
     */
    private async claimSocket(): Promise<boolean> {
        const socketPath = this.options.socketPath;
        if (process.platform === "win32")
            return this.claimNamedPipe(socketPath);
        const temporaryPath = path.join(path.dirname(socketPath), `.e${process.pid}.sock`);
        await unlinkQuietly(temporaryPath);
        await listen(this.server, temporaryPath);
        await chmod(temporaryPath, 0o600);
        this.socketInode = (await stat(temporaryPath)).ino;
        for (let attempt = 0; attempt < 5; attempt++) {
            try {
                await link(temporaryPath, socketPath);
                await unlinkQuietly(temporaryPath);
                return true;
            } catch (error) {
                if (errorCode(error) !== "EEXIST")
                    throw error;
            }
            if (await isEngineSocketAlive(socketPath)) {
                this.options.logger.info(`Another engine already serves ${socketPath}; this one exits`);
                await new Promise<void>((resolve) => this.server.close(() => resolve()));
                return false;
            }
            this.options.logger.warn(`Replacing the stale socket ${socketPath}`);
            try {
                await rename(temporaryPath, socketPath);
                return true;
            } catch (error) {
                if (errorCode(error) !== "ENOENT")
                    throw error;
            }
        }
        throw new EngineProtocolError(`Could not claim the engine socket ${socketPath}`);
    }

    private async claimNamedPipe(pipePath: string): Promise<boolean> {
        try {
            await listen(this.server, pipePath);
            return true;
        } catch (error) {
            if (errorCode(error) === "EADDRINUSE")
                return false;
            throw error;
        }
    }

    private async checkSocketOwnership(): Promise<void> {
        if (this.socketInode === undefined || this.closing !== undefined)
            return;
        let inode: number | undefined;
        try {
            inode = (await stat(this.options.socketPath)).ino;
        } catch {
            inode = undefined;
        }
        if (inode !== this.socketInode)
            void this.close("replaced", `The socket ${this.options.socketPath} no longer leads to this engine`);
    }

    private async unlinkSocketIfOurs(): Promise<void> {
        if (this.socketInode === undefined)
            return;
        try {
            if ((await stat(this.options.socketPath)).ino === this.socketInode)
                await unlink(this.options.socketPath);
        } catch {
            // Already gone or replaced by another engine: nothing of ours to remove.
        }
    }

    // ---- Connections and messages ----

    private acceptConnection(socket: net.Socket): void {
        if (this.closing !== undefined) {
            socket.destroy();
            return;
        }
        const connection: ClientConnection = {serial: ++this.connectionSerial, name: "unknown", socket, decoder: new EngineMessageDecoder(), jobs: new Map()};
        this.clients.add(connection);
        clearTimeout(this.exitTimer);
        socket.on("data", (chunk: Buffer) => {
            let messages: unknown[];
            try {
                messages = connection.decoder.push(chunk);
            } catch (error) {
                this.options.logger.error(`Client ${connection.serial} broke the protocol; closing its connection`, error);
                socket.destroy();
                return;
            }
            for (const message of messages)
                this.handleMessage(connection, message);
        });
        socket.on("error", (error) => this.options.logger.warn(`Client ${connection.serial} (${connection.name}) socket error: ${error.message}`));
        socket.on("close", () => this.dropConnection(connection));
        this.send(connection, {type: "state", state: this.currentState()});
    }

    private dropConnection(connection: ClientConnection): void {
        if (!this.clients.delete(connection))
            return;
        // Nobody is left to receive these results: stop the work.
        for (const job of connection.jobs.values()) {
            job.abortController.abort();
            this.modelQueue.removeWaiting(job);
            this.downloadQueue.removeWaiting(job);
        }
        connection.jobs.clear();
        this.options.logger.info(`Client ${connection.serial} (${connection.name}) disconnected; ${this.clients.size} left`);
        this.maybeScheduleExit();
    }

    private handleMessage(connection: ClientConnection, message: unknown): void {
        if (isEngineCancelMessage(message)) {
            this.cancelJob(connection, message.id);
            return;
        }
        if (!isEngineRequestEnvelope(message)) {
            const id = (message as {id?: unknown} | null)?.id;
            this.options.logger.warn(`Client ${connection.serial} sent an unknown message`);
            if (typeof id === "number" && Number.isSafeInteger(id))
                this.replyError(connection, id, new EngineProtocolError("Unknown message type or method"));
            return;
        }
        if (connection.jobs.has(message.id)) {
            this.replyError(connection, message.id, new EngineProtocolError(`Request id ${message.id} is already in use`));
            return;
        }
        const guard = engineParamsGuards[message.method] as (value: unknown) => boolean;
        if (!guard(message.params)) {
            this.replyError(connection, message.id, new EngineProtocolError(`Invalid parameters for "${message.method}"`));
            return;
        }
        this.handleRequest(connection, message.id, message.method, message.params as never);
    }

    private handleRequest<M extends EngineMethod>(connection: ClientConnection, id: number, method: M, params: EngineParams<M>): void {
        switch (method) {
            case "hello":
                this.handleHello(connection, id, params as EngineParams<"hello">);
                return;
            case "ping":
                this.reply(connection, id, {pid: process.pid, uptimeMs: Date.now() - this.startedAt.getTime()});
                return;
            case "shutdown":
                this.reply(connection, id, null);
                void this.close("shutdown-requested", `Requested by ${connection.name}: ${(params as EngineParams<"shutdown">).reason}`);
                return;
        }
        if (this.closing !== undefined) {
            this.replyError(connection, id, new EngineDrainingError("The engine is shutting down"));
            return;
        }
        const job: Job = {
            connection,
            requestId: id,
            method,
            modelPath: (params as {modelPath?: string}).modelPath,
            abortController: new AbortController(),
            run: (signal) => this.runMethod(connection, id, method, params, signal)
        };
        connection.jobs.set(id, job);
        if (modelMethods.has(method)) {
            clearTimeout(this.unloadTimer);
            this.modelQueue.enqueue(job);
        } else {
            this.downloadQueue.enqueue(job);
        }
    }

    private handleHello(connection: ClientConnection, id: number, params: EngineParams<"hello">): void {
        if (params.protocolVersion !== ENGINE_PROTOCOL_VERSION) {
            this.replyError(connection, id, new EngineProtocolError(`The engine speaks protocol ${ENGINE_PROTOCOL_VERSION}, the client ${params.protocolVersion}`));
            return;
        }
        const firstHello = connection.name === "unknown";
        connection.name = `${params.clientName} pid ${params.clientPid}`;
        if (params.modelIdleUnloadMs !== undefined && params.modelIdleUnloadMs !== this.modelIdleUnloadMs) {
            this.modelIdleUnloadMs = params.modelIdleUnloadMs;
            this.options.logger.info(`Model idle unload time set to ${params.modelIdleUnloadMs} ms by ${connection.name}`);
            this.onQueueChange();
        }
        if (firstHello)
            this.options.logger.info(`Client ${connection.serial} (${connection.name}) connected; ${this.clients.size} connected`);
        const result: EngineHelloResult = {
            protocolVersion: ENGINE_PROTOCOL_VERSION,
            pid: process.pid,
            buildStamp: this.options.buildStamp,
            startedAt: this.startedAt.toISOString(),
            clients: this.clients.size,
            state: this.currentState()
        };
        this.reply(connection, id, result);
    }

    private cancelJob(connection: ClientConnection, id: number): void {
        const job = connection.jobs.get(id);
        if (job === undefined)
            return;
        job.abortController.abort();
        // A job that has not started is answered at once; a running one answers when the backend stops.
        if (this.modelQueue.removeWaiting(job) || this.downloadQueue.removeWaiting(job)) {
            connection.jobs.delete(id);
            this.replyError(connection, id, new OperationCancelledError(`${job.method} (before it started)`));
        }
    }

    private async runMethod<M extends EngineMethod>(connection: ClientConnection, id: number, method: M, params: EngineParams<M>, signal: AbortSignal): Promise<unknown> {
        const onProgress = (progress: DistillProgress): void => this.send(connection, {type: "progress", id, progress});
        switch (method) {
            case "distill":
                return (await this.backend()).distill(params as EngineParams<"distill">, {onProgress, signal});
            case "ask":
                return (await this.backend()).ask(params as EngineParams<"ask">, {onProgress, signal, onToken: (text) => this.send(connection, {type: "token", id, text})});
            case "getCacheReport":
                return (await (await this.backend()).getCacheReport(params as EngineParams<"getCacheReport">)) ?? null;
            case "clearCache":
                await (await this.backend()).clearCache(params as EngineParams<"clearCache">);
                return null;
            case "unloadModel":
                await this.unloadModel();
                return null;
            case "downloadModel":
                return this.options.downloadModel(params as EngineParams<"downloadModel">, {
                    signal,
                    onProgress: (progress) => this.send(connection, {type: "downloadProgress", id, progress})
                });
            default:
                throw new EngineProtocolError(`"${method}" is not a job`);
        }
    }

    private async executeJob(job: Job): Promise<void> {
        if (job.method === "distill" || job.method === "ask") {
            this.modelLoaded = true;
            this.loadedModelPath = job.modelPath;
        }
        this.broadcastState();
        try {
            const result = await job.run(job.abortController.signal);
            if (job.connection !== undefined)
                this.reply(job.connection, job.requestId, result);
        } catch (error) {
            const cancelled = job.abortController.signal.aborted && !(error instanceof OperationCancelledError);
            const reported = cancelled ? new OperationCancelledError(job.method, {cause: error}) : error;
            if (job.connection !== undefined)
                this.replyError(job.connection, job.requestId, reported);
            else
                this.options.logger.error(`Engine job ${job.method} failed`, error);
        } finally {
            job.connection?.jobs.delete(job.requestId);
        }
    }

    private backend(): Promise<EngineBackend> {
        if (this.backendPromise === undefined) {
            const created = this.options.createBackend({logger: this.logger});
            this.backendPromise = created;
            // A failed start (missing build, bad install) is retried by the next request.
            created.catch(() => {
                if (this.backendPromise === created)
                    this.backendPromise = undefined;
            });
        }
        return this.backendPromise.catch((error: unknown) => {
            throw error instanceof EngineBackendUnavailableError ? error : new EngineBackendUnavailableError("The engine backend could not be started", {cause: error});
        });
    }

    private async unloadModel(): Promise<void> {
        if (this.backendPromise !== undefined)
            await (await this.backendPromise).unloadModel();
        this.modelLoaded = false;
        this.loadedModelPath = undefined;
    }

    // ---- Idle handling and state ----

    private onQueueChange(): void {
        this.broadcastState();
        clearTimeout(this.unloadTimer);
        if (this.modelQueue.idle && this.modelLoaded && this.closing === undefined) {
            this.unloadTimer = setTimeout(() => {
                this.options.logger.info(`Unloading the model after ${this.modelIdleUnloadMs} ms without model work`);
                this.modelQueue.enqueue({
                    connection: undefined,
                    requestId: -1,
                    method: "unloadModel",
                    modelPath: undefined,
                    abortController: new AbortController(),
                    run: async () => this.unloadModel()
                });
            }, this.modelIdleUnloadMs);
        }
        this.maybeScheduleExit();
    }

    private maybeScheduleExit(): void {
        clearTimeout(this.exitTimer);
        if (this.clients.size > 0 || !this.modelQueue.idle || !this.downloadQueue.idle || this.closing !== undefined)
            return;
        this.exitTimer = setTimeout(() => void this.close("idle-exit", `No client for ${this.options.exitIdleMs} ms`), this.options.exitIdleMs);
    }

    private currentState(): EngineServerState {
        const running = this.modelQueue.running ?? this.downloadQueue.running;
        if (running !== undefined) {
            const state: EngineServerState = {kind: "busy", operation: running.method, queued: this.modelQueue.waitingCount + this.downloadQueue.waitingCount};
            if (this.loadedModelPath !== undefined)
                state.modelPath = this.loadedModelPath;
            return state;
        }
        const state: EngineServerState = {kind: "ready", modelLoaded: this.modelLoaded};
        if (this.loadedModelPath !== undefined)
            state.modelPath = this.loadedModelPath;
        return state;
    }

    private broadcastState(): void {
        const state = this.currentState();
        const serialized = JSON.stringify(state);
        if (serialized === this.lastBroadcastState)
            return;
        this.lastBroadcastState = serialized;
        this.broadcast({type: "state", state});
    }

    // ---- Sending ----

    private broadcast(message: EngineServerMessage): void {
        for (const connection of this.clients)
            this.send(connection, message);
    }

    private send(connection: ClientConnection, message: EngineServerMessage): void {
        if (connection.socket.destroyed || !connection.socket.writable)
            return;
        connection.socket.write(encodeEngineMessage(message));
    }

    private reply(connection: ClientConnection, id: number, result: unknown): void {
        this.send(connection, {type: "response", id, ok: true, result: result === undefined ? null : result});
    }

    private replyError(connection: ClientConnection, id: number, error: unknown): void {
        this.send(connection, {type: "response", id, ok: false, error: serializeEngineError(error)});
    }
}

function listen(server: net.Server, socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const onError = (error: Error): void => reject(error);
        server.once("error", onError);
        server.listen(socketPath, () => {
            server.off("error", onError);
            resolve();
        });
    });
}

/** True when something accepts connections on the socket; false for a stale or missing one. */
export function isEngineSocketAlive(socketPath: string, timeoutMs = 2000): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(socketPath);
        const timer = setTimeout(() => {
            // A hung engine still accepts at the kernel level; one that does not answer at all is not ours to replace.
            socket.destroy();
            resolve(true);
        }, timeoutMs);
        socket.once("connect", () => {
            clearTimeout(timer);
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => {
            clearTimeout(timer);
            resolve(false);
        });
    });
}

async function unlinkQuietly(file: string): Promise<void> {
    try {
        await unlink(file);
    } catch (error) {
        if (errorCode(error) !== "ENOENT")
            throw error;
    }
}

function errorCode(error: unknown): string | undefined {
    return (error as {code?: unknown} | null)?.code as string | undefined;
}
