"""The Responses API as the official `openai` Python client sees it (issue 13: the npm and Python
clients are the judges). Run by test/server/python-client.test.ts against a real server:

    python3 test/python/responses_contract.py http://127.0.0.1:PORT/v1

Exits non-zero with the failed check on stderr. Needs the `openai` package (pip install openai):
CI has no PyPI, so there the vitest file says it is skipped and why.
"""

import sys

from openai import NotFoundError, OpenAI

client = OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0)
greedy = {"model": "storyteller", "temperature": 0, "max_output_tokens": 12}
# Instructions are not inherited (OpenAI's rule): a chain that wants them sends them every turn.
instructions = "Be kind."


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


# create, a 20-turn previous_response_id chain, each turn's state reused
first = client.responses.create(input="Tell me a story about a fox.", instructions=instructions, **greedy)
check(first.status in ("completed", "incomplete"), f"status {first.status}")
check(first.output_text == first.output[0].content[0].text, "output_text is the message's text")
check(first.usage.input_tokens > 0 and first.usage.output_tokens > 0, "usage counts tokens")
previous = first
for turn in range(1, 20):
    previous = client.responses.create(
        input=f"Turn {turn}: and then?", instructions=instructions, previous_response_id=previous.id, **greedy
    )
    check(previous.previous_response_id is not None, "the chain is recorded")
    check(previous.usage.input_tokens_details.cached_tokens > 0, f"turn {turn} reused the stored state")

# streaming: named events in OpenAI's order, sequence numbers counting up
events = list(client.responses.create(input="A short one.", stream=True, **greedy))
types = [event.type for event in events]
check(types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                    "response.content_part.added"], f"opening events {types[:4]}")
check(types[-4:] == ["response.output_text.done", "response.content_part.done",
                     "response.output_item.done", types[-1]], f"closing events {types[-4:]}")
check(types[-1] in ("response.completed", "response.incomplete"), f"last event {types[-1]}")
check([event.sequence_number for event in events] == list(range(len(events))), "sequence numbers")
streamed = "".join(event.delta for event in events if event.type == "response.output_text.delta")
check(streamed == events[-1].response.output_text, "the deltas make the final text")

# retrieve, input items (paged), delete, then 404s
got = client.responses.retrieve(previous.id)
check(got.id == previous.id and got.output_text == previous.output_text, "retrieve returns the response")
items = client.responses.input_items.list(first.id, order="asc", limit=1)
check(len(items.data) == 1 and items.data[0].content[0].text == "Tell me a story about a fox.",
      "input items list the request's own input")
deleted = client.responses.delete(first.id)
check(deleted is None, "delete answers as the client expects")
try:
    client.responses.retrieve(first.id)
    check(False, "a deleted response is gone")
except NotFoundError:
    pass
try:
    client.responses.create(input="x", previous_response_id=first.id, **greedy)
    check(False, "continuing a deleted response is a 404")
except NotFoundError as error:
    check(error.body["param"] == "previous_response_id", f"404 names the parameter: {error.body}")

# structured output through text.format, parsed by the client's own helper
from pydantic import BaseModel, Field  # noqa: E402


class Animal(BaseModel):
    # Bounded, so the answer completes within max_output_tokens (the grammar enforces the bounds).
    name: str = Field(max_length=12)
    legs: int = Field(ge=0, le=8)


parsed = client.responses.parse(input="An animal as JSON.", text_format=Animal, model="storyteller",
                                 temperature=0, max_output_tokens=100)
check(parsed.status == "completed", f"the bounded answer completes: {parsed.status}")
check(isinstance(parsed.output_parsed, Animal) and 0 <= parsed.output_parsed.legs <= 8,
      "the json_schema answer parses into the model")
print("ok: 20-turn chain, stream, retrieve, input_items, delete, 404, text.format parse")
