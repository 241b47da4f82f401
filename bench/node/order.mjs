// order.mjs - the order summary of bench/http/guests/order-rs (a Rust WAGI handler on
// serde_json) in JavaScript, for `POST /order` in cluster.mjs: the Node.js side of the
// `order` rows of `make bench-http` (bench/http/serve.sh).
//
//   summarizeOrder(bytes) -> { body } (200, the summary) or { error } (400)
//
// Same checks, same arithmetic, same answer byte for byte as src/main.rs there: the body
// must be UTF-8 holding an order (id, customer {id, tier}, shipping {cost}, an optional
// coupon {percent}, vat_rate, items [{sku, category, price, qty, weight_g, tags}]; other
// keys are skipped), integers are 0..2^32-1, money is counted in whole cents
// (Math.round(price * 100), as Rust's f64::round for these non-negative values), the
// discount is rounded down, categories are sorted by their UTF-8 bytes (Rust's BTreeMap
// order), and every number in the answer is an integer, so that JSON.stringify's strings
// and plain integers are what serde_json writes.
//
// Where serde's typed parse and JSON.parse differ, on inputs the benchmark never sends:
// a repeated key (serde refuses it, JSON.parse keeps the last), an integer field written
// 2.0 or 2e0 (serde refuses it), a struct written as an array (serde takes it by position),
// nesting deeper than 128 (serde refuses it) and a lone surrogate in a key the handler
// skips (serde takes it). The {"error":...} messages differ too: they are serde's and V8's.

const PRICE_MAX = 1e6;
const QTY_MAX = 1000;
const WEIGHT_MAX = 1000000;
const FREE_SHIPPING_CENTS = 5000;
const U32_MAX = 4294967295;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class OrderError extends Error {}

function object(v, what) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new OrderError(`${what}: expected an object`);
  }
  return v;
}

function field(o, key) {
  const v = o[key];
  if (v === undefined) throw new OrderError(`missing field \`${key}\``);
  return v;
}

function str(o, key) {
  const v = field(o, key);
  if (typeof v !== 'string') throw new OrderError(`${key}: expected a string`);
  if (!v.isWellFormed()) throw new OrderError(`${key}: lone surrogate`);
  return v;
}

function num(o, key) {
  const v = field(o, key);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new OrderError(`${key}: expected a number`);
  return v;
}

function u32(o, key) {
  const v = field(o, key);
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new OrderError(`${key}: expected u32`);
  return v;
}

function cents(amount, what) {
  if (!(amount >= 0 && amount <= PRICE_MAX)) {
    throw new OrderError(`${what} must be between 0 and ${PRICE_MAX}`);
  }
  return Math.round(amount * 100);
}

// Rust's str ordering: by UTF-8 bytes. For strings without surrogates (all below U+D800) it
// is the UTF-16 code unit order that < gives.
function byteOrder(a, b) {
  if (/[\ud800-\uffff]/.test(a + b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

function summarize(text) {
  const order = object(JSON.parse(text), 'order');
  const id = str(order, 'id');
  const customer = object(field(order, 'customer'), 'customer');
  const customerId = u32(customer, 'id');
  const tier = str(customer, 'tier');
  const shippingCost = num(object(field(order, 'shipping'), 'shipping'), 'cost');
  const coupon = order.coupon == null ? null : object(order.coupon, 'coupon');
  const percent = coupon ? u32(coupon, 'percent') : 0;
  const vatRate = num(order, 'vat_rate');
  const items = field(order, 'items');
  if (!Array.isArray(items)) throw new OrderError('items: expected an array');
  // serde reads every field of every item before summarize() checks any range.
  const lines = items.map((x) => {
    const it = object(x, 'item');
    const tags = field(it, 'tags');
    if (!Array.isArray(tags)) throw new OrderError('tags: expected an array');
    for (let i = 0; i < tags.length; i++) str(tags, i);
    return {
      sku: str(it, 'sku'), category: str(it, 'category'), price: num(it, 'price'),
      qty: u32(it, 'qty'), weight: u32(it, 'weight_g'), tags,
    };
  });

  if (lines.length === 0) throw new OrderError('an order needs one item or more');
  if (!(vatRate >= 0 && vatRate <= 1)) throw new OrderError('vat_rate must be between 0 and 1');
  let units = 0, weight = 0, subtotal = 0;
  let max = null;
  const tags = new Set();
  const categories = new Map();
  for (const it of lines) {
    const price = cents(it.price, 'price');
    if (it.qty === 0 || it.qty > QTY_MAX) throw new OrderError(`qty must be between 1 and ${QTY_MAX}`);
    if (it.weight > WEIGHT_MAX) throw new OrderError(`weight_g must be at most ${WEIGHT_MAX}`);
    const line = price * it.qty;
    units += it.qty;
    weight += it.weight * it.qty;
    subtotal += line;
    if (max === null || price > max.price) max = { sku: it.sku, price };
    for (const t of it.tags) tags.add(t);
    let c = categories.get(it.category);
    if (!c) categories.set(it.category, (c = { lines: 0, units: 0, cents: 0 }));
    c.lines += 1;
    c.units += it.qty;
    c.cents += line;
  }
  if (percent > 100) throw new OrderError('coupon percent must be at most 100');
  // subtotal * percent / 100 rounded down, exact although subtotal * percent may pass 2^53.
  const discount = Math.floor(subtotal / 100) * percent + Math.floor((subtotal % 100) * percent / 100);
  const net = subtotal - discount;
  let shipping = cents(shippingCost, 'shipping cost');
  if (tier === 'gold' && net >= FREE_SHIPPING_CENTS) shipping = 0;
  const vat = Math.round((net + shipping) * vatRate);

  const cats = [...categories.keys()].sort(byteOrder).map((name) => {
    const c = categories.get(name);
    return `{"name":${JSON.stringify(name)},"lines":${c.lines},"units":${c.units},"cents":${c.cents}}`;
  });
  return `{"id":${JSON.stringify(id)},"customer":${customerId},"tier":${JSON.stringify(tier)},` +
    `"lines":${lines.length},"units":${units},"distinct_tags":${tags.size},"weight_g":${weight},` +
    `"max_item":{"sku":${JSON.stringify(max.sku)},"price_cents":${max.price}},` +
    `"categories":[${cats.join(',')}],"subtotal_cents":${subtotal},"discount_cents":${discount},` +
    `"shipping_cents":${shipping},"vat_cents":${vat},"total_cents":${net + shipping + vat}}`;
}

export function summarizeOrder(bytes) {
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { error: 'invalid UTF-8' };
  }
  try {
    return { body: summarize(text) };
  } catch (e) {
    if (e instanceof SyntaxError || e instanceof OrderError) return { error: e.message };
    throw e;
  }
}
