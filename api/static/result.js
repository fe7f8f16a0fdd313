// Showing an answer: the image with its prompt and facts, and this session's recent images.

const RECENT_STORAGE = "imagegate.recent";
const RECENT_MAX = 12;
const FACTS = ["Aspect Ratio", "Resolution", "Model", "Seed"];
const $ = (id) => document.getElementById(id);

/** Show a parsed answer ({images, fields, notes}, see answer.js); every text goes in as textContent. */
export function showResult({ images, fields, notes }) {
  const [url] = images;
  const enhanced = fields.get("Enhanced Prompt");
  const prompt = enhanced ?? fields.get("Prompt") ?? "";
  $("image").src = url;
  $("image").alt = prompt;
  $("image-link").href = url;
  $("download").href = url;
  $("download").download = `imagegate-${new URL(url).pathname.split("/").pop()}`;
  $("prompt-label").textContent = enhanced === undefined ? "Prompt" : "Enhanced prompt";
  $("prompt-text").textContent = prompt;
  const facts = FACTS.filter((name) => fields.has(name)).flatMap((name) => [
    element("dt", name),
    element("dd", fields.get(name)),
  ]);
  $("facts").replaceChildren(...facts);
  $("notes").replaceChildren(...notes.map((note) => element("li", note)));
  $("result").hidden = false;
  markShown();
}

/** Outline the strip's thumbnail of the image in view. */
function markShown() {
  for (const button of $("recent-strip").children) {
    button.setAttribute("aria-current", String(button.dataset.url === $("image").src));
  }
}

function element(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

function recent() {
  try {
    return JSON.parse(sessionStorage.getItem(RECENT_STORAGE)) ?? [];
  } catch {
    return [];
  }
}

function store(entries) {
  sessionStorage.setItem(RECENT_STORAGE, JSON.stringify(entries.slice(0, RECENT_MAX)));
}

/** Add an answer to the front of the session's strip. */
export function remember({ images, fields, notes }) {
  store([{ images, fields: [...fields], notes }, ...recent()]);
  showRecent();
}

export function showRecent() {
  const entries = recent();
  const thumbnails = entries.map((entry) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.url = entry.images[0];
    button.title = entry.fields.find(([name]) => name.endsWith("Prompt"))?.[1] ?? "";
    const image = document.createElement("img");
    image.src = entry.images[0];
    image.alt = button.title;
    // Images expire from the gateway's cache: drop them from the strip once they are gone.
    image.addEventListener("error", () => {
      store(recent().filter((kept) => kept.images[0] !== entry.images[0]));
      button.remove();
      $("recent").hidden = !$("recent-strip").childElementCount;
    });
    button.append(image);
    button.addEventListener("click", () => {
      $("run").hidden = true; // the progress shown belongs to the latest run, not to this image
      showResult({ ...entry, fields: new Map(entry.fields) });
    });
    return button;
  });
  $("recent-strip").replaceChildren(...thumbnails);
  $("recent").hidden = entries.length === 0;
  markShown();
}
