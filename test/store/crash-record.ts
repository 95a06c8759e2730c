/** The bytes the crash writer stores under key `r<key>`, so the test can check them without being told. */
export function recordFor(key: number): Uint8Array {
  const value = new Uint8Array(50_000 + (key % 7) * 1_000);
  for (let i = 0; i < value.length; i++) value[i] = (key * 131 + i * 7) & 0xff;
  return value;
}
