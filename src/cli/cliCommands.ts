// The list of subcommands. Each entry imports its module lazily so that `kv-distill index`
// never loads node-llama-cpp.
export type CliCommand = {
    name: string;
    summary: string;
    run(args: readonly string[]): Promise<number>;
};

export const cliCommands: readonly CliCommand[] = [
    {
        name: "backend",
        summary: "Report which llama.cpp build and backend would be used",
        run: async (args) => (await import("./backendCommand.js")).runBackendCommand(args)
    },
    {
        name: "build-backend",
        summary: "Build the patched llama.cpp with a CUDA or Vulkan backend on this machine",
        run: async (args) => (await import("./buildBackendCommand.js")).runBuildBackendCommand(args)
    },
    {
        name: "index",
        summary: "List the files a workspace prompt would contain, in order, and what is skipped",
        run: async (args) => (await import("./indexCommand.js")).runIndexCommand(args)
    },
    {
        name: "distill",
        summary: "Distill a workspace into a compressed, saved KV cache",
        run: async (args) => (await import("./distillCommand.js")).runDistillCommand(args)
    },
    {
        name: "ask",
        summary: "Answer a question about a workspace from its compressed cache",
        run: async (args) => (await import("./askCommand.js")).runAskCommand(args)
    }
];
