/**
 * Scratch buffers for one forward pass, reused across calls so that decoding allocates nothing
 * per token. A workspace belongs to one caller (one worker thread); it grows to the largest
 * batch seen and never shrinks.
 */
export class Workspace {
  private readonly floats = new Map<string, Float32Array>();
  private readonly ints = new Map<string, Int32Array>();
  private readonly states: Float32Array[] = [];
  private int8 = new Int8Array(0);
  private int32 = new Int32Array(0);
  private scales = new Float32Array(0);
  private rowSequences = new Int32Array(0);

  /** A float buffer of at least `length` elements, by role (e.g. "x", "gate"). */
  float(role: string, length: number): Float32Array {
    let buffer = this.floats.get(role);
    if (!buffer || buffer.length < length) {
      buffer = new Float32Array(grow(buffer?.length ?? 0, length));
      this.floats.set(role, buffer);
    }
    return buffer;
  }

  /** An int32 buffer of row indices of at least `length` elements, by role. */
  indices(role: string, length: number): Int32Array {
    let buffer = this.ints.get(role);
    if (!buffer || buffer.length < length) {
      buffer = new Int32Array(grow(buffer?.length ?? 0, length));
      this.ints.set(role, buffer);
    }
    return buffer;
  }

  /** The `values` of each state, in a list reused from call to call. */
  stateValues(states: readonly { readonly values: Float32Array }[]): Float32Array[] {
    this.states.length = states.length;
    for (let s = 0; s < states.length; s++) this.states[s] = states[s].values;
    return this.states;
  }

  normalized(length: number): Float32Array {
    return this.float("bitlinear.normalized", length);
  }

  activations(length: number): Int8Array {
    if (this.int8.length < length) this.int8 = new Int8Array(grow(this.int8.length, length));
    return this.int8;
  }

  accumulators(length: number): Int32Array {
    if (this.int32.length < length) this.int32 = new Int32Array(grow(this.int32.length, length));
    return this.int32;
  }

  /** The sequence index of each row of a batch, as the native recurrence takes it. */
  sequenceOfRow(rows: number): Int32Array {
    if (this.rowSequences.length < rows)
      this.rowSequences = new Int32Array(grow(this.rowSequences.length, rows));
    return this.rowSequences;
  }

  activationScales(rows: number): Float32Array {
    if (this.scales.length < rows) this.scales = new Float32Array(grow(this.scales.length, rows));
    return this.scales;
  }
}

function grow(current: number, needed: number): number {
  return Math.max(needed, Math.ceil(current * 1.5));
}
