// Depot routing: the shortest chain of depots between two postcodes' regional hubs.
export type Depot = {id: string; region: string; links: string[]};

export function findRoute(depots: Map<string, Depot>, fromId: string, toId: string): string[] | undefined {
    const previous = new Map<string, string>();
    const queue = [fromId];
    const seen = new Set([fromId]);
    while (queue.length > 0) {
        const current = queue.shift()!;
        if (current === toId) {
            const route = [current];
            while (previous.has(route[0]!))
                route.unshift(previous.get(route[0]!)!);
            return route;
        }
        for (const next of depots.get(current)?.links ?? []) {
            if (!seen.has(next)) {
                seen.add(next);
                previous.set(next, current);
                queue.push(next);
            }
        }
    }
    return undefined;
}

export function regionOfPostcode(postcode: string): string {
    const prefix = postcode.trim().slice(0, 2).toUpperCase();
    return /^[A-Z]{2}$/.test(prefix) ? prefix : "ZZ";
}
