import { beforeAll, describe, expect, it } from "vitest";
import type { LogitsProcessor } from "../../src/engine/sampling/index.js";
import { GrammarConstraintCompiler } from "../../src/generation/constraints/compiler.js";
import { DEFAULT_MODEL_DIR } from "../../src/model/default-model.js";
import { loadTokenizerFiles } from "../../src/model/tokenizer-files.js";
import { ChatTemplate, templateMessages } from "../../src/server/chat-template.js";
import {
  type FunctionTool,
  parseToolCalls,
  ToolCallStream,
  toolPlan,
} from "../../src/server/endpoints/chat-completions/tools.js";
import { loadConstraintChecks } from "../../src/server/endpoints/shared/structured-output.js";

/** The tool-call format: what each tool_choice's grammar lets the model write, and the parsing back. */

const { tokenizer } = loadTokenizerFiles(DEFAULT_MODEL_DIR);
const compiling = GrammarConstraintCompiler.create(tokenizer, tokenizer.vocabSize);
const tools: FunctionTool[] = [
  {
    type: "function",
    function: {
      name: "get_time",
      parameters: { type: "object", properties: { zone: { enum: ["utc", "local"] } }, required: ["zone"] },
    },
  },
];

// toolPlan checks each tool's schema with the grammar engine, which a route starts first.
beforeAll(() => loadConstraintChecks({ tools }));

/** Whether the grammar lets the model write `text`, token by token (as the tokenizer splits it). */
function allows(processor: LogitsProcessor, text: string): boolean {
  const logits = new Float32Array(tokenizer.vocabSize);
  for (const token of tokenizer.encode(text, { addSpecialTokens: false })) {
    logits.fill(0);
    processor.process(logits);
    if (logits[token] === Number.NEGATIVE_INFINITY) return false;
    processor.accept(token);
  }
  return true;
}

describe("what tool_choice lets the model write", () => {
  const call = '<tool_call>{"name": "get_time", "arguments": {"zone": "utc"}}</tool_call>';

  it("auto: free text, and after the trigger only a valid call", async () => {
    const compiler = await compiling;
    const plan = toolPlan(tools, "auto", true);
    expect(allows(compiler.compile(plan.constraint!), `Let me check. ${call}`)).toBe(true);
    expect(allows(compiler.compile(plan.constraint!), "Just some words, no call at all.")).toBe(true);
    expect(allows(compiler.compile(plan.constraint!), '<tool_call>{"name": "get_weather"')).toBe(false);
    expect(
      allows(
        compiler.compile(plan.constraint!),
        '<tool_call>{"name": "get_time", "arguments": {"zone": "mars"',
      ),
    ).toBe(false);
  });

  it("required: nothing but calls", async () => {
    const compiler = await compiling;
    const plan = toolPlan(tools, "required", true);
    expect(allows(compiler.compile(plan.constraint!), `${call}\n${call}`)).toBe(true);
    expect(allows(compiler.compile(plan.constraint!), "Sure")).toBe(false);
  });

  it("none: no constraint and no tools shown", () => {
    expect(toolPlan(tools, "none", true)).toEqual({ tools: [], constraint: null, parsesCalls: false });
  });
});

describe("parsing calls back", () => {
  it("splits content from complete calls; a call cut short stays text", () => {
    const parsed = parseToolCalls('Checking. <tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>');
    expect(parsed.content).toBe("Checking.");
    expect(parsed.calls.map((c) => c.function)).toEqual([{ name: "f", arguments: '{"a":1}' }]);
    expect(parseToolCalls('<tool_call>{"name": "f", "argu').calls).toEqual([]);
    expect(parseToolCalls('<tool_call>{"name": "f", "arguments": {}}</tool_call>').content).toBeNull();
  });

  it("streams content as it comes, holding back only a possible trigger, and each call whole", () => {
    const stream = new ToolCallStream();
    const pieces = ["Hi <", "tool", '_call>{"name": "f", ', '"arguments": {}}</tool', "_call> bye"];
    const out = pieces.map((piece) => stream.push(piece));
    expect(out.map((o) => o.content)).toEqual(["Hi ", "", "", "", " bye"]);
    expect(out.flatMap((o) => o.calls).map((c) => c.function.name)).toEqual(["f"]);
    expect(stream.flush()).toBe("");
    expect(new ToolCallStream().push("a < b").content).toBe("a < b");
  });
});

describe("tools in chat templates", () => {
  const history = templateMessages([
    { role: "user", content: "Time?" },
    {
      role: "assistant",
      content: null,
      tool_calls: [
        { id: "call_1", type: "function", function: { name: "get_time", arguments: '{"zone": "utc"}' } },
      ],
    },
    { role: "tool", tool_call_id: "call_1", content: "12:00" },
  ]);

  it("the default template lists the tools and shows calls and answers in the format the grammar writes", () => {
    const text = ChatTemplate.forModel(DEFAULT_MODEL_DIR, {}, tokenizer).render(history, true, tools);
    expect(text).toContain('{"name": "get_time", "parameters": {');
    expect(text).toContain(
      'Assistant: <tool_call>{"name": "get_time", "arguments": {"zone": "utc"}}</tool_call>\n\n',
    );
    expect(text).toContain("Tool: 12:00\n\n");
    expect(text.endsWith("Assistant:")).toBe(true);
    // Without tools, a conversation renders as it always did.
    const plain = ChatTemplate.forModel(DEFAULT_MODEL_DIR, {}, tokenizer).render(history.slice(0, 1), true);
    expect(plain).toBe("User: Time?\n\nAssistant:");
  });

  it("a model's own template gets tools and each call's arguments as an object, as transformers passes them", () => {
    const template =
      "{% for t in tools %}[{{ t.function.name }}]{% endfor %}{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}<{{ c.function.name }}:{{ c.function.arguments.zone }}>{% endfor %}{% elif m.role == 'tool' %}({{ m.tool_call_id }}={{ m.content }}){% endif %}{% endfor %}";
    const text = ChatTemplate.forModel(DEFAULT_MODEL_DIR, { chat_template: template }, tokenizer).render(
      history,
      true,
      tools,
    );
    expect(text).toBe("[get_time]<get_time:utc>(call_1=12:00)");
  });
});
