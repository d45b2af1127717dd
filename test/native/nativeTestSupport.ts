// Shared by the TypeScript tests of the patched native functions (run by `npm run test:native`).
import path from "node:path";
import {existsSync} from "node:fs";
import type * as NodeLlamaCpp from "node-llama-cpp";

export const repositoryRoot = path.resolve(__dirname, "..", "..", "..");

/** The tiny random-weight llama model that `npm run test:native` writes (the C++ tests build the same one). */
export function tinyModelPath(): string {
    const modelPath = path.join(repositoryRoot, "native", "build", "fixtures", "tiny-llama.gguf");
    if (!existsSync(modelPath))
        throw new Error(`${modelPath} is missing: run the native tests with \`npm run test:native\`, which writes it`);
    return modelPath;
}

/**
 * Context options for comparisons: f32 keys and values and no flash attention, so that results compare the
 * cell bookkeeping, not the f16 rounding of flash attention over re-ordered cells (about 1e-3 in the
 * probabilities of the peaky tiny model).
 */
export const exactContextOptions = {
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
    threads: 2
} as const;

/** Deterministic token ids in [0, vocabularySize). */
export function seededTokens(count: number, vocabularySize: number, seed: number): NodeLlamaCpp.Token[] {
    let state = seed >>> 0;
    const tokens: NodeLlamaCpp.Token[] = [];
    for (let i = 0; i < count; i++) {
        // xorshift32
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        tokens.push((state % vocabularySize) as NodeLlamaCpp.Token);
    }
    return tokens;
}

/** Evaluates the tokens and returns the next-token probabilities after the last one (softmax of the raw logits). */
export async function nextTokenProbabilities(
    sequence: NodeLlamaCpp.LlamaContextSequence,
    tokens: readonly NodeLlamaCpp.Token[]
): Promise<Map<number, number>> {
    const input: NodeLlamaCpp.ControlledEvaluateInputItem[] = tokens.slice(0, -1);
    input.push([tokens[tokens.length - 1], {generateNext: {logits: true}}]);
    const results = await sequence.controlledEvaluate(input);
    const logits = results[results.length - 1]?.next.logits;
    if (logits === undefined)
        throw new Error("controlledEvaluate returned no logits");
    const maxLogit = Math.max(...logits.values());
    let sum = 0;
    const probabilities = new Map<number, number>();
    for (const [token, logit] of logits) {
        const weight = Math.exp(logit - maxLogit);
        probabilities.set(token, weight);
        sum += weight;
    }
    for (const [token, weight] of probabilities)
        probabilities.set(token, weight / sum);
    return probabilities;
}

export function maxAbsoluteDifference(a: Map<number, number>, b: Map<number, number>): number {
    let difference = 0;
    for (const [token, probability] of a)
        difference = Math.max(difference, Math.abs(probability - (b.get(token) ?? 0)));
    return difference;
}

export function topToken(probabilities: Map<number, number>): number {
    let best = -1;
    let bestProbability = -1;
    for (const [token, probability] of probabilities) {
        if (probability > bestProbability) {
            best = token;
            bestProbability = probability;
        }
    }
    return best;
}
