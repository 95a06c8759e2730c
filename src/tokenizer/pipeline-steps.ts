/**
 * Whether a tokenizer.json pipeline stage (or one inside a Sequence) has `type` and passes
 * `test`: how the tokenizer reads what kind of vocabulary it has, which the port does not say.
 */
export function hasStep(
  stage: unknown,
  type: string,
  test: (step: Record<string, unknown>) => boolean = () => true,
): boolean {
  if (typeof stage !== "object" || stage === null) return false;
  const step = stage as Record<string, unknown>;
  if (step.type === type && test(step)) return true;
  const inner = step.decoders ?? step.normalizers ?? step.pretokenizers;
  return Array.isArray(inner) && inner.some((item) => hasStep(item, type, test));
}
