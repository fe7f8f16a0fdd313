// Server-Sent Events over fetch: EventSource cannot POST or send an Authorization header.

/** Call onData with the data of each event of `response`'s body until it returns false or the body ends. */
export async function readEvents(response, onData) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const events = buffer.split(/\r?\n\r?\n/);
      buffer = events.pop(); // the last piece may be an event still arriving
      for (const event of events) {
        const data = dataOf(event);
        if (data !== null && onData(data) === false) return;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** The event's `data:` lines joined, or null for an event without data (a `: ping` comment). */
function dataOf(event) {
  const lines = event
    .split(/\r?\n/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, ""));
  return lines.length ? lines.join("\n") : null;
}
