// Models that Select Model offers to download (node-llama-cpp "hf:" URIs). Sizes are the
// approximate file sizes, shown before the user agrees; the download shows the exact size.
export type RecommendedModel = {
    label: string;
    uri: string;
    approximateBytes: number;
    description: string;
};

export const recommendedModels: readonly RecommendedModel[] = [
    {
        label: "Qwen 3 4B (Q4_K_M)",
        uri: "hf:Qwen/Qwen3-4B-GGUF:Q4_K_M",
        approximateBytes: 2.5e9,
        description: "A good balance of quality and speed on a GPU with 8 GB or more"
    },
    {
        label: "Qwen 3 8B (Q4_K_M)",
        uri: "hf:Qwen/Qwen3-8B-GGUF:Q4_K_M",
        approximateBytes: 5.0e9,
        description: "Better answers; wants a GPU with 12 GB or more"
    },
    {
        label: "Qwen 3 0.6B (Q8_0)",
        uri: "hf:Qwen/Qwen3-0.6B-GGUF:Q8_0",
        approximateBytes: 0.64e9,
        description: "Small and fast, works on a CPU; simple questions only"
    }
];

export function formatBytes(bytes: number): string {
    if (bytes >= 1e9)
        return `${(bytes / 1e9).toFixed(1)} GB`;
    if (bytes >= 1e6)
        return `${Math.round(bytes / 1e6)} MB`;
    if (bytes >= 1e3)
        return `${Math.round(bytes / 1e3)} kB`;
    return `${bytes} B`;
}
