/**
 * The receiver's bounded FIFO of frames waiting for the application, with
 * flow control: at `highFrames` it asks the transport to pause reading, at
 * `lowFrames` to resume; at `maxFrames` it refuses (the caller drops the
 * connection and resumes from lastExecuted). Pure: the hooks do the I/O.
 */

export interface FlowHooks {
  pause(): void;
  resume(): void;
}

export class ReceiverQueue<T> {
  private items: T[] = [];
  private head = 0;
  private paused = false;

  constructor(
    private readonly highFrames: number,
    private readonly lowFrames: number,
    private readonly maxFrames: number,
    private readonly hooks: FlowHooks,
  ) {
    if (!(lowFrames < highFrames && highFrames <= maxFrames && lowFrames >= 0)) {
      throw new Error('assertion failed: 0 <= lowFrames < highFrames <= maxFrames');
    }
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** false when the queue already holds maxFrames (nothing was added). */
  push(item: T): boolean {
    if (this.length >= this.maxFrames) return false;
    this.items.push(item);
    if (!this.paused && this.length >= this.highFrames) {
      this.paused = true;
      this.hooks.pause();
    }
    return true;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T; // let it be collected
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.paused && this.length <= this.lowFrames) this.resumeNow();
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    if (this.paused) this.resumeNow();
  }

  private resumeNow(): void {
    this.paused = false;
    this.hooks.resume();
  }
}
