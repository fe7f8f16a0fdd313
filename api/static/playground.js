// The playground: key, model picker and prompt in; a streamed chat completion out.

import { parseAnswer } from "./answer.js";
import { readEvents } from "./sse.js";
import { remember, showRecent, showResult } from "./result.js";
import { setUpSnippets, showKeyInSnippets } from "./snippets.js";

const KEY_STORAGE = "imagegate.key";
const $ = (id) => document.getElementById(id);
const form = $("playground");
const keyInput = $("key");
const modelSelect = $("model");

function takeKeyFromFragment() {
  // The fragment never reaches a server: imagegate serve hands the key over in it.
  const key = new URLSearchParams(location.hash.slice(1)).get("key");
  if (key === null) return;
  localStorage.setItem(KEY_STORAGE, key);
  history.replaceState(null, "", location.pathname + location.search);
}

function authHeaders() {
  const key = keyInput.value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// A refused key said in words, with what to do: the gateway's own text is for programs.
const NO_KEY =
  "This gateway needs a key. Paste it in the key field above: `imagegate serve` prints one " +
  "(its playground link fills it in), or it is the GATEWAY_API_KEY the gateway was started with.";
const WRONG_KEY =
  "The gateway did not accept this key. Check it against the key `imagegate serve` printed " +
  "or the GATEWAY_API_KEY it was started with.";

async function errorMessage(response) {
  if (response.status === 401) return keyInput.value.trim() ? WRONG_KEY : NO_KEY;
  try {
    return (await response.json()).error.message;
  } catch {
    return `the gateway answered HTTP ${response.status}`;
  }
}

/** Show `message` in the alert, or hide it when empty. `from` names the step that showed it:
 * the model list, refreshed in the background, clears only a message of its own. */
function showError(message, from = "generate") {
  $("error").textContent = message;
  $("error").hidden = !message;
  $("error").dataset.from = from;
}

async function loadModels() {
  const chosen = modelSelect.value;
  const response = await fetch("/v1/models", { headers: authHeaders() }).catch(() => null);
  if (!response?.ok) {
    // The names the page came with stay; before any key is typed a 401 is expected, and the
    // hint below the field already says so.
    if (keyInput.value.trim()) showError(response ? await errorMessage(response) : "the gateway cannot be reached", "models");
    return;
  }
  if ($("error").dataset.from === "models") showError("", "models");
  const { data } = await response.json();
  modelSelect.replaceChildren(...data.map((model) => new Option(model.id, model.id)));
  if (data.some((model) => model.id === chosen)) modelSelect.value = chosen;
}

function onKeyInput() {
  const key = keyInput.value.trim();
  localStorage.setItem(KEY_STORAGE, key);
  $("key-hint").hidden = Boolean(key);
  showKeyInSnippets(key);
  clearTimeout(onKeyInput.timer);
  onKeyInput.timer = setTimeout(loadModels, 250);
}

// The image to edit, as a data: URI: it goes as an image_url part beside the prompt.
let editImage = null;

function setEditImage(file) {
  const preview = $("edit-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  editImage = null;
  preview.hidden = $("edit-clear").hidden = !file;
  $("generate").textContent = file ? "Edit" : "Generate";
  if (!file) {
    preview.removeAttribute("src");
    form.edit_image.value = "";
    return;
  }
  preview.src = URL.createObjectURL(file);
  const reader = new FileReader();
  reader.onload = () => (editImage = reader.result);
  reader.readAsDataURL(file);
}

function onPaste(event) {
  const item = [...(event.clipboardData?.items ?? [])].find((i) => i.type.startsWith("image/"));
  if (!item) return;
  event.preventDefault();
  setEditImage(item.getAsFile());
}

function requestBody() {
  const prompt = form.prompt.value.trim();
  const ratio = form.ratio.value;
  const text = ratio ? `${prompt} ratio ${ratio}` : prompt;
  const content = editImage
    ? [{ type: "text", text }, { type: "image_url", image_url: { url: editImage } }]
    : text;
  return {
    model: modelSelect.value || undefined,
    messages: [{ role: "user", content }],
    stream: true,
    enhance: form.enhance.checked,
  };
}

/** Stream one completion: progress goes to `onReasoning`; resolves with the Markdown answer. */
async function complete(body, onReasoning) {
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { ...authHeaders(), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  let answer = "";
  let failure = null;
  await readEvents(response, (data) => {
    if (data === "[DONE]") return false;
    const chunk = JSON.parse(data);
    if (chunk.error) {
      failure = chunk.error.message;
      return false;
    }
    const delta = chunk.choices?.[0]?.delta ?? {};
    if (delta.reasoning_content) onReasoning(delta.reasoning_content);
    if (delta.content) answer += delta.content;
  });
  if (failure) throw new Error(failure);
  if (!answer) throw new Error("the stream ended before the image was ready");
  return answer;
}

function onReasoning(text) {
  const shown = $("reasoning-text");
  shown.textContent += text;
  const lines = shown.textContent.trim().split("\n");
  $("status").textContent = lines[lines.length - 1];
}

async function generate(event) {
  event.preventDefault();
  if (!form.prompt.value.trim()) return;
  showError("");
  $("generate").disabled = true;
  $("run").hidden = false;
  $("run").classList.add("busy");
  $("reasoning").open = true;
  $("reasoning-text").textContent = "";
  $("status").textContent = "Sending…";
  const started = performance.now();
  try {
    const result = parseAnswer(await complete(requestBody(), onReasoning));
    if (!result.images.length) throw new Error("the answer holds no image");
    const seconds = (performance.now() - started) / 1000;
    $("status").textContent = `Done in ${seconds.toFixed(seconds < 1 ? 2 : 1)} s`;
    $("reasoning").open = false;
    showResult(result);
    remember(result);
  } catch (error) {
    $("status").textContent = "Failed";
    $("result").hidden = true; // the previous image is not this request's answer
    // Refused before the stream began (a bad key): the error alone says it all.
    $("run").hidden = !$("reasoning-text").textContent;
    showError(error.message === "Failed to fetch" ? "the gateway cannot be reached" : error.message);
  } finally {
    $("run").classList.remove("busy");
    $("generate").disabled = false;
  }
}

takeKeyFromFragment();
keyInput.value = localStorage.getItem(KEY_STORAGE) ?? "";
keyInput.addEventListener("input", onKeyInput);
form.addEventListener("submit", generate);
form.edit_image.addEventListener("change", () => setEditImage(form.edit_image.files[0] ?? null));
$("edit-clear").addEventListener("click", () => setEditImage(null));
document.addEventListener("paste", onPaste);
form.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});
setUpSnippets();
onKeyInput();
showRecent();
