// The HTTP front end: GET /parcels/:id answers where a parcel was last seen.
import {createServer} from "node:http";
import defaults from "../config/defaults.json";
import {TrackingStore} from "./trackingStore";

export function startServer(store: TrackingStore = new TrackingStore()): void {
    const server = createServer((request, response) => {
        const match = /^\/parcels\/([A-Za-z0-9-]+)$/.exec(request.url ?? "");
        if (request.method !== "GET" || match === null) {
            response.writeHead(404).end();
            return;
        }
        const parcelId = match[1]!;
        const last = store.lastSeen(parcelId);
        response.writeHead(last === undefined ? 404 : 200, {"content-type": "application/json"});
        response.end(JSON.stringify(last === undefined
            ? {error: `unknown parcel ${parcelId}`}
            : {parcelId, depotId: last.depotId, scannedAt: last.scannedAt, stale: store.isStale(parcelId)}));
    });
    server.requestTimeout = defaults.server.requestTimeoutMs;
    server.listen(defaults.server.port);
}
