// The "use it from any OpenAI client" snippets: Python/curl tabs, the user's key, a copy button.

const tabs = document.querySelectorAll("[data-snippet]");

export function showKeyInSnippets(key) {
  for (const slot of document.querySelectorAll(".key-slot")) slot.textContent = key || "YOUR_KEY";
}

function select(tab) {
  for (const other of tabs) {
    other.setAttribute("aria-selected", String(other === tab));
    document.getElementById(other.dataset.snippet).hidden = other !== tab;
  }
}

async function copy(button) {
  const shown = document.querySelector(".snippet:not([hidden])");
  try {
    await navigator.clipboard.writeText(shown.textContent);
    button.textContent = "Copied";
  } catch {
    // The clipboard API exists only on https and localhost: select the text for Ctrl+C instead.
    getSelection().selectAllChildren(shown);
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

export function setUpSnippets() {
  for (const tab of tabs) tab.addEventListener("click", () => select(tab));
  const button = document.getElementById("copy");
  button.addEventListener("click", () => copy(button));
}
