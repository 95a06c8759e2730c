import type { ServedModel } from "../../../scheduler/scheduler.js";
import type { ReplyState, ReplyStateKey } from "../../../store/reply-state-store.js";
import type { TemplateMessage } from "../../chat-template.js";
import type { StateStoreHandle } from "../../state-store-handle.js";

/**
 * Chat's use of the stored reply states (store/reply-state-store.ts). A chat UI sends the whole
 * conversation each turn; the state after the assistant's last reply was stored under the prompt
 * that produced it, which is the template over the messages before that reply. So the lookup
 * renders those messages (no tokenizing) and reads one record while the full prompt is
 * tokenized; the record is used when its ids are a prefix of the prompt's.
 */
export class ChatReplyStates {
  private written: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StateStoreHandle,
    private readonly owner: string | null,
    private readonly fingerprint: string,
  ) {}

  static async of(store: StateStoreHandle, owner: string | null): Promise<ChatReplyStates> {
    return new ChatReplyStates(store, owner, await store.stateFingerprint());
  }

  private key(promptText: string): ReplyStateKey {
    return { owner: this.owner, fingerprint: this.fingerprint, promptText };
  }

  /**
   * Starts reading the state after the last assistant message, if there is one; the answer is
   * the state when it covers a prefix of the prompt `promptIds` will resolve to. Never throws:
   * a template that cannot render the shorter conversation, or a store that fails, is a miss.
   */
  before(
    model: ServedModel,
    messages: readonly TemplateMessage[],
    tools: readonly unknown[],
  ): ((promptIds: readonly number[]) => Promise<ReplyState | undefined>) | undefined {
    const lastReply = messages.findLastIndex((message) => message.role === "assistant");
    if (lastReply < 0) return undefined;
    let promptText: string;
    try {
      promptText = model.chatTemplate.render(messages.slice(0, lastReply), true, tools);
    } catch {
      return undefined;
    }
    const found = this.store.replyStates.find(this.key(promptText));
    return async (promptIds) => this.store.replyStates.covering(await found, promptIds);
  }

  /** Stores the state after this request's reply (RequestRun's onReplyState). */
  saver(promptText: string): (consumed: readonly number[], values: Float32Array) => void {
    return (consumed, values) => {
      this.written = this.store.replyStates.save(this.key(promptText), consumed, values);
    };
  }

  /** Resolves when the reply's state is written (or given up on): the response ends after it. */
  saved(): Promise<void> {
    return this.written;
  }
}
