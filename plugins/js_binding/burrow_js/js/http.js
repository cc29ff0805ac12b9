// http: upstream Gopherbot's synchronous JavaScript `http` module, as require("http") returns
// it. Options are read as upstream's goja module reads them; each request goes through the
// bridge to burrow_js/http.py (__burrow.http), which answers the response or the error.
// What each option means, the limits and the errors: docs/javascript.md ("http").
//
//   const http = require("http");
//   const res = http.get(url, { headers: { Accept: "application/json" }, timeout: "10s" });
//   if (!res.ok) { ... res.statusCode ... }   // 4xx and 5xx are responses
//   res.json                                   // parsed when the content type is JSON
// A request that fails (no response: refused, timed out, too large, bad option) throws.
"use strict";

const send = __burrow.http;

// Upstream throws goja's GoError, an Error whose message is Go's error text.
class GoError extends Error {
  constructor(message) {
    super(message);
    this.name = "GoError";
  }
}

const isNil = (value) => value === undefined || value === null;
// fmt.Sprint of an exported JavaScript value, for the cases that matter here.
const sprint = (value) => (isNil(value) ? "<nil>" : String(value));
const isMap = (value) =>
  value !== null && typeof value === "object" && !Array.isArray(value) && !ArrayBuffer.isView(value);

const stringMap = (options, key) => {
  const raw = options[key];
  if (isNil(raw)) return [];
  if (!isMap(raw)) throw new GoError(`${key} must be an object`);
  return Object.keys(raw).map((name) => [name, sprint(raw[name])]);
};

const timeoutOf = (options) => {
  if (!isNil(options.timeoutMs)) {
    if (typeof options.timeoutMs !== "number") throw new GoError("timeoutMs must be a number");
    const ms = Math.trunc(options.timeoutMs);
    return ms > 0 ? ms / 1000 : null;
  }
  const raw = options.timeout;
  if (isNil(raw)) return null;
  if (typeof raw === "string") return raw; // a Go duration, parsed by the robot's side
  if (typeof raw !== "number") {
    throw new GoError("timeout must be a duration string or number of seconds");
  }
  return raw > 0 ? raw : null;
};

const queryOf = (raw) => {
  if (isNil(raw)) return null;
  if (typeof raw === "string") return raw;
  if (!isMap(raw)) throw new GoError("query must be a string or object");
  const pairs = [];
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (Array.isArray(value)) for (const item of value) pairs.push([key, sprint(item)]);
    else pairs.push([key, sprint(value)]);
  }
  return pairs;
};

const formOf = (form) => {
  if (!isMap(form)) return sprint(form);
  // A map is URL-encoded (upstream would send Go's map[...] text).
  return Object.keys(form)
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(sprint(form[key]))}`)
    .join("&");
};

// [body, bytes, content type]
const bodyOf = (body, form) => {
  if (isNil(body)) {
    if (isNil(form)) return [null, null, ""];
    return [formOf(form), null, "application/x-www-form-urlencoded"];
  }
  if (typeof body === "string") return [body, null, ""];
  if (body instanceof ArrayBuffer) return [null, Array.from(new Uint8Array(body)), ""];
  if (ArrayBuffer.isView(body)) {
    return [null, Array.from(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)), ""];
  }
  if (Array.isArray(body)) {
    const bytes = body.map((item, i) => {
      const n = typeof item === "number" ? Math.trunc(item) : NaN;
      if (!(n >= 0 && n <= 255)) {
        throw new GoError(`body byte array contains non-byte value at index ${i}`);
      }
      return n;
    });
    return [null, bytes, ""];
  }
  let text;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new GoError(`unable to encode request body as JSON: ${error.message}`);
  }
  if (text === undefined) {
    throw new GoError(`unable to encode request body as JSON: unsupported type ${typeof body}`);
  }
  return [text, null, "application/json"];
};

const isJSON = (contentType) => {
  const media = String(contentType || "").split(";")[0].trim().toLowerCase();
  return media === "application/json" || media.endsWith("+json");
};

// The response object, or a GoError (returned, not thrown: requestBatch keeps it).
const attempt = (method, url, rawOptions) => {
  try {
    method = String(method).trim().toUpperCase() || "GET";
    if (String(url).trim() === "") return new GoError("request: url is required");
    let options = {};
    if (!isNil(rawOptions)) {
      if (!isMap(rawOptions)) return new GoError("request options must be an object");
      options = rawOptions;
    }
    // Upstream's order: headers, the body's default Content-Type, cookies, basic auth.
    const ops = stringMap(options, "headers").map(([name, value]) => ["set", name, value]);
    const cookies = stringMap(options, "cookies");
    const timeout = timeoutOf(options);
    let auth = null;
    if (!isNil(options.auth)) {
      if (!isMap(options.auth)) throw new GoError("auth must be an object");
      const { user, pass } = options.auth;
      if (isNil(user) || isNil(pass)) throw new GoError("auth must include user and pass");
      auth = ["auth", sprint(user), sprint(pass)];
    }
    const query = queryOf(options.query);
    const [body, bytes, contentType] = bodyOf(options.body, options.form);
    if (contentType) ops.push(["default", "Content-Type", contentType]);
    for (const [name, value] of cookies) ops.push(["cookie", name, value]);
    if (auth) ops.push(auth);
    const answer = send({ method, url: String(url), query, ops, body, bytes, timeout });
    if (Object.hasOwn(answer, "error")) return new GoError(answer.error);
    const response = answer.response;
    let json = null;
    if (isJSON(response.headers["content-type"])) {
      try {
        json = JSON.parse(response.body);
      } catch (error) {
        json = null; // as upstream: a body that is not JSON leaves json null
      }
    }
    response.json = json;
    return response;
  } catch (error) {
    if (error instanceof GoError) return error;
    throw error;
  }
};

const perform = (method, url, options) => {
  const result = attempt(method, url, options);
  if (result instanceof GoError) throw result;
  return result;
};

const verb = (method) =>
  function (url, options) {
    if (arguments.length === 0) throw new TypeError(`${method.toLowerCase()}: url is required`);
    return perform(method, url, options);
  };

function request(method, url, options) {
  if (arguments.length < 2) throw new TypeError("request: method and url are required");
  return perform(method, url, options);
}

// Each request is {method, url, options} or [method, url, options]. Answers the responses;
// when any failed, [responses, errors] with null at the other's place.
function requestBatch(requests) {
  if (arguments.length === 0) throw new TypeError("requestBatch: requests array is required");
  if (!Array.isArray(requests)) throw new TypeError("requestBatch: requests must be an array");
  const responses = [];
  const errors = [];
  let failed = false;
  for (const item of requests) {
    let method;
    let url;
    let options;
    if (Array.isArray(item) && item.length >= 2) {
      [method, url, options] = [sprint(item[0]), sprint(item[1]), item[2]];
    } else if (isMap(item) && typeof item.url === "string" && item.url !== "") {
      method = typeof item.method === "string" && item.method ? item.method : "GET";
      [url, options] = [item.url, item.options];
    }
    const result =
      url === undefined || url === ""
        ? new GoError("request must be an object")
        : attempt(method, url, options);
    if (result instanceof GoError) {
      responses.push(null);
      errors.push(result.message);
      failed = true;
    } else {
      responses.push(result);
      errors.push(null);
    }
  }
  return failed ? [responses, errors] : responses;
}

module.exports = {
  get: verb("GET"),
  delete: verb("DELETE"),
  head: verb("HEAD"),
  patch: verb("PATCH"),
  post: verb("POST"),
  put: verb("PUT"),
  request,
  requestBatch,
  request_batch: requestBatch,
};
