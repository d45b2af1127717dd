// HTTP client used to reach depot scanners. Retries transient failures with exponential backoff.
import defaults from "../config/defaults.json";

export type RetryPolicy = {retryLimit: number; backoffBaseMs: number; backoffMaxMs: number};

export const defaultRetryPolicy: RetryPolicy = {
    retryLimit: defaults.httpClient.retryLimit,
    backoffBaseMs: defaults.httpClient.backoffBaseMs,
    backoffMaxMs: defaults.httpClient.backoffMaxMs
};

export class DepotUnreachableError extends Error {
    public constructor(public readonly depotId: string, public readonly attempts: number) {
        super(`depot ${depotId} unreachable after ${attempts} attempts`);
    }
}

export function backoffDelayMs(attempt: number, policy: RetryPolicy = defaultRetryPolicy): number {
    return Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** attempt);
}

export async function fetchWithRetry(depotId: string, url: string, policy: RetryPolicy = defaultRetryPolicy): Promise<unknown> {
    for (let attempt = 0; attempt <= policy.retryLimit; attempt++) {
        try {
            const response = await fetch(url);
            if (response.status >= 500)
                throw new Error(`status ${response.status}`);
            return await response.json();
        } catch {
            await new Promise((resolve) => setTimeout(resolve, backoffDelayMs(attempt, policy)));
        }
    }
    throw new DepotUnreachableError(depotId, policy.retryLimit + 1);
}
