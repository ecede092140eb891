// TF Serving's REST API, as the page uses it: nothing here that curl could not
// send to tensorflow/serving. Paths are absolute, so the page works from any
// folder of the origin that serves /v1/.

/** An answer of the server that is not a success: its JSON `error`, or the HTTP status. */
export class ServerError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ServerError";
    this.status = status;
  }
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: a proxy's error page, say
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new ServerError(message, response.status);
  }
  if (body === null) throw new ServerError(`the server did not answer JSON: ${text.slice(0, 80)}`);
  return body;
}

/** `GET /v1/models/<model>/metadata`: its signatures, or null when it is not served (404). */
export async function metadata(model) {
  const response = await fetch(`/v1/models/${model}/metadata`);
  if (response.status === 404) return null;
  const body = await answer(response);
  return body.metadata.signature_def.signature_def;
}

/** `POST /v1/models/<model>:predict` with `body` (row `instances` or columnar `inputs`). */
export async function predict(model, body) {
  const response = await fetch(`/v1/models/${model}:predict`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer(response);
}

/** The size of dimension `axis` of a signature's input or output (-1: any), or null. */
export function dimension(signatures, signature, kind, name, axis) {
  const tensor = signatures?.[signature]?.[kind]?.[name];
  const dim = tensor?.tensor_shape?.dim?.[axis];
  return dim === undefined ? null : Number(dim.size);
}

/** Bytes (an ArrayBuffer) as base64, for `{"b64": ...}`. */
export function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
