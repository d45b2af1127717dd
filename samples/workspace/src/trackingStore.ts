// In-memory store of parcel scans. A parcel with no scan for `staleAfterHours` is reported stale.
import defaults from "../config/defaults.json";

export type Scan = {parcelId: string; depotId: string; scannedAt: Date};

export class TrackingStore {
    private readonly scans = new Map<string, Scan[]>();

    public record(scan: Scan): void {
        const history = this.scans.get(scan.parcelId) ?? [];
        if (history.length >= defaults.tracking.maxHopsPerParcel)
            throw new Error(`parcel ${scan.parcelId} exceeded ${defaults.tracking.maxHopsPerParcel} hops`);
        history.push(scan);
        this.scans.set(scan.parcelId, history);
    }

    public lastSeen(parcelId: string): Scan | undefined {
        const history = this.scans.get(parcelId);
        return history?.[history.length - 1];
    }

    public isStale(parcelId: string, now: Date = new Date()): boolean {
        const last = this.lastSeen(parcelId);
        if (last === undefined)
            return true;
        return now.getTime() - last.scannedAt.getTime() > defaults.tracking.staleAfterHours * 3_600_000;
    }
}
