/**
 * Browser code of the console: a form per command, generated from the JSON schemas of its `args`
 * and `kwargs` as /asyncapi.json publishes them (made from the command's zod schemas). Fields
 * are not checked in the browser: whatever is typed goes to the server, so the form shows the
 * server's own 400 and its issues.
 *
 * Written as plain JavaScript in a raw string: the page has no build step.
 */
export const FORMS_JS = String.raw`
/** A describable field: where it goes, its schema, whether it is required. */
function commandFields(spec) {
  const fields = [];
  let args = spec.args || {};
  if (Array.isArray(args.anyOf)) {
    // Several shapes (such as [id] or []): the longest, with every position optional.
    const arrays = args.anyOf.filter((s) => s.type === "array");
    const longest = arrays.sort((a, b) => (b.prefixItems || []).length - (a.prefixItems || []).length)[0];
    args = longest ? { ...longest, minItems: Math.min(...arrays.map((s) => s.minItems || 0)) } : {};
  }
  if (Array.isArray(args.prefixItems)) {
    args.prefixItems.forEach((schema, i) => {
      fields.push({ where: "args", key: i, label: "args[" + i + "]", schema, required: i < (args.minItems || 0) });
    });
  } else {
    fields.push({ where: "args", key: null, label: "args", schema: { type: "array" }, required: false });
  }
  const kwargs = spec.kwargs || {};
  const props = kwargs.properties || {};
  const required = new Set(kwargs.required || []);
  for (const [name, schema] of Object.entries(props)) {
    fields.push({ where: "kwargs", key: name, label: name, schema, required: required.has(name) });
  }
  if (Object.keys(props).length === 0) {
    fields.push({ where: "kwargs", key: null, label: "kwargs", schema: { type: "object" }, required: false });
  }
  return fields;
}

/** What a schema accepts, in a few words: "integer ≥ 0", "string, 1–100 characters". */
function describeSchema(s) {
  const bits = [];
  const type = Array.isArray(s.enum) ? "one of " + s.enum.map((v) => JSON.stringify(v)).join(", ")
    : s.type === "array" ? "JSON array" : s.type === "object" ? "JSON object" : s.type || "JSON value";
  bits.push(type);
  const big = (n) => Math.abs(n) >= Number.MAX_SAFE_INTEGER;
  if (s.minimum !== undefined && !big(s.minimum)) bits.push("≥ " + s.minimum);
  if (s.maximum !== undefined && !big(s.maximum)) bits.push("≤ " + s.maximum);
  if (s.minLength !== undefined || s.maxLength !== undefined) {
    bits.push((s.minLength || 0) + "–" + (s.maxLength ?? "∞") + " characters");
  }
  return bits.join(", ");
}

/** Turns what was typed into the value sent; "" is "not given". */
function fieldValue(field, text) {
  const s = field.schema;
  if (text === "") return undefined;
  if (s.type === "integer" || s.type === "number") {
    return /^\s*-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : text;
  }
  if (s.type === "boolean") return text === "true" ? true : text === "false" ? false : text;
  if (s.type === "string" || Array.isArray(s.enum)) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(field.label + ": not JSON");
  }
}

/** Renders a reply into a form's result box: code, message, and the issues of a 400. */
function showReply(box, reply) {
  box.replaceChildren();
  const head = document.createElement("div");
  const code = document.createElement("span");
  code.className = "code c" + String(reply.code).charAt(0);
  code.textContent = String(reply.code);
  head.append(code, " " + (reply.msg ?? ""));
  if (reply.more) head.append(" (" + (reply.process ?? "…") + "%)");
  box.append(head);
  if (reply.code === 400 && Array.isArray(reply.data)) {
    const list = document.createElement("ul");
    list.className = "issues";
    for (const issue of reply.data) {
      const li = document.createElement("li");
      li.textContent = (issue.path || "(message)") + ": " + issue.message;
      list.append(li);
    }
    box.append(list);
  } else if (reply.data !== undefined) {
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(reply.data, null, 2).slice(0, 2000);
    box.append(pre);
  }
}

/**
 * A form for one command.
 *
 * @param name The command's name.
 * @param spec Its entry in the contract's "x-commands": description, args, kwargs.
 * @param call (message, onReply) sends a request and routes its replies; false when offline.
 */
function commandForm(name, spec, call) {
  const details = document.createElement("details");
  details.className = "command";
  details.dataset.command = name;
  const summary = document.createElement("summary");
  const title = document.createElement("b");
  title.textContent = name;
  summary.append(title, spec.description ? " — " + spec.description : "");
  const form = document.createElement("form");
  const fields = commandFields(spec);
  for (const field of fields) {
    const label = document.createElement("label");
    const caption = document.createElement("span");
    caption.textContent = field.label + (field.required ? " *" : "");
    let input;
    const s = field.schema;
    if (Array.isArray(s.enum) || s.type === "boolean") {
      input = document.createElement("select");
      input.append(new Option("", ""));
      for (const v of s.enum || ["true", "false"]) input.append(new Option(String(v), String(v)));
    } else {
      input = document.createElement("input");
      if (s.type === "integer" || s.type === "number") input.inputMode = "decimal";
      input.placeholder = s.type === "array" ? "[]" : s.type === "object" ? "{}" : "";
    }
    input.name = field.where + "." + (field.key ?? "*");
    const hint = document.createElement("small");
    hint.textContent = describeSchema(s);
    label.append(caption, input, hint);
    form.append(label);
  }
  const button = document.createElement("button");
  button.textContent = "Call " + name;
  const result = document.createElement("div");
  result.className = "result";
  form.append(button, result);
  form.onsubmit = (event) => {
    event.preventDefault();
    const msg = { mode: "req_res", action: "req", src: "console", command: name, args: [], kwargs: {} };
    try {
      for (const field of fields) {
        const value = fieldValue(field, form.elements[field.where + "." + (field.key ?? "*")].value.trim());
        if (value === undefined) continue;
        if (field.key === null) msg[field.where] = value;
        else msg[field.where][field.key] = value;
      }
    } catch (err) {
      result.textContent = err.message;
      return;
    }
    for (let i = 0; i < msg.args.length; i++) if (!(i in msg.args)) msg.args[i] = null;
    result.textContent = "waiting…";
    if (!call(msg, (reply) => showReply(result, reply))) result.textContent = "Not connected";
  };
  details.append(summary, form);
  return details;
}
`;
