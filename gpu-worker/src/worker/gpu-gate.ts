/**
 * A one-slot gate: the accelerator runs one pipeline at a time, while post-processing of the
 * previous job (encode, scan, store) runs beside it on the CPU.
 */
export class GpuGate {
  private tail: Promise<void> = Promise.resolve();
  private busySince: number | undefined;
  /** Total milliseconds the gate was held. */
  busyMs = 0;

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => {
      release = r;
    });
    await prev;
    this.busySince = performance.now();
    try {
      return await fn();
    } finally {
      this.busyMs += performance.now() - (this.busySince ?? performance.now());
      this.busySince = undefined;
      release();
    }
  }
}
