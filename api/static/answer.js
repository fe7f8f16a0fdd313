// Reads imagegate's Markdown answer into image URLs and labelled fields, as plain text.

const IMAGE = /^!\[(?:\\.|[^\]\\])*\]\((\S+)\)\s*$/;
const LABEL = /^\*\*(?:\S+ )?([A-Za-z][A-Za-z ]*):\*\*\s*(.*)$/; // "**🎨 Aspect Ratio:** 16:9"
const WARNING = /^\*\*⚠️ ([^*]+)\*\*\s*(.*)$/; // "**⚠️ Enhancement failed, using original prompt** (why)"
const ESCAPED = /\\([!-\/:-@[-`{-~])/g; // a backslash before any ASCII punctuation, as in CommonMark

/**
 * {images: [absolute http(s) URLs], fields: Map(label → text), notes: [notes and warnings as text]}.
 * A label with nothing after it takes the next line (the prompts are laid out that way).
 */
export function parseAnswer(markdown) {
  const lines = markdown.split(/\r?\n/);
  const images = [];
  const fields = new Map();
  const notes = [];
  lines.forEach((line, index) => {
    const image = IMAGE.exec(line);
    const url = image && safeUrl(image[1]);
    if (url) images.push(url);
    const warning = WARNING.exec(line);
    if (warning) notes.push(plain(`${warning[1]} ${warning[2]}`));
    const label = LABEL.exec(line);
    if (!label) return;
    const value = plain(label[2] || lines[index + 1] || "");
    if (label[1] === "Note") notes.push(value);
    else fields.set(label[1], value);
  });
  return { images, fields, notes };
}

/** Undo the answer's Markdown neutralising: backslash escapes and the zero-width spaces in URLs. */
function plain(text) {
  return text.replace(ESCAPED, "$1").replaceAll("\u200b", "").trim();
}

function safeUrl(raw) {
  try {
    const url = new URL(raw, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}
