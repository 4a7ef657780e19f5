/**
 * Ceph RGW (rgw.ts) as a jest fixture; apart from rgw.ts, which the benchmarks also compile without jest.
 */
import { type Rgw, RgwUnavailable, startRgw } from "./rgw";

/**
 * One server for the test file: started before its tests, stopped after them. Returns an accessor that
 * gives the server, or, when it could not start (radosgw not installed), throws the one clear
 * RgwUnavailable message in every test and hook that needs it, instead of a TypeError on `undefined`.
 */
export function useRgw(start: () => Promise<Rgw> = () => startRgw()): () => Rgw {
  let rgw: Rgw | undefined;
  let failure: Error | undefined;
  beforeAll(async () => {
    try {
      rgw = await start();
    } catch (e) {
      failure = e instanceof RgwUnavailable ? e : new RgwUnavailable((e as Error).message);
    }
  }, 150_000);
  afterAll(() => rgw?.stop());
  return () => {
    if (rgw) return rgw;
    throw failure ?? new RgwUnavailable("the server was used before it started (outside a test or hook)");
  };
}
