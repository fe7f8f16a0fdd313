// History: the key's recent jobs from GET /v1/jobs, with their images while the cache keeps them.

import { parseAnswer } from "./answer.js";

const $ = (id) => document.getElementById(id);

function authHeaders() {
  const key = $("key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** The image URLs of a finished job's result: a chat completion or an Images API answer. */
function imagesOf(job) {
  const result = job.result;
  if (!result) return [];
  if (result.object === "chat.completion") {
    return parseAnswer(result.choices?.[0]?.message?.content ?? "").images;
  }
  return (result.data ?? []).map((item) => item.url).filter(Boolean);
}

function when(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function entry(job) {
  const item = document.createElement("li");
  const [url] = imagesOf(job);
  if (url) {
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    const image = document.createElement("img");
    image.src = url;
    image.alt = job.model;
    // Expired from the cache: the job stays listed, without its picture.
    image.addEventListener("error", () => link.remove());
    link.append(image);
    item.append(link);
  }
  const caption = document.createElement("span");
  caption.textContent = `${when(job.created_at)} · ${job.model} · ${job.status}`;
  if (job.error) caption.title = job.error.message;
  item.append(caption);
  item.dataset.status = job.status;
  return item;
}

export async function showHistory() {
  const response = await fetch("/v1/jobs?limit=20", { headers: authHeaders() }).catch(() => null);
  if (!response?.ok) {
    $("history").hidden = true;
    return;
  }
  const { data } = await response.json();
  $("history-list").replaceChildren(...data.map(entry));
  $("history").hidden = data.length === 0;
}

$("history-refresh").addEventListener("click", showHistory);
$("key").addEventListener("input", () => {
  clearTimeout(showHistory.timer);
  showHistory.timer = setTimeout(showHistory, 300);
});
showHistory();
