//! order-rs - a WAGI handler in Rust built on serde_json: the `rust-order` rows of
//! `make bench-http` (bench/http/serve.sh), against the same logic in Node.js
//! (`/order` in bench/node/cluster.mjs).
//!
//! `POST` an order (a JSON document such as the one in bench/http/order.lua, about 1.5 KB):
//! it is read from stdin, parsed with `serde_json::from_str` into typed structs
//! (`#[derive(Deserialize)]`; unknown keys are skipped), checked, and answered with a
//! summary computed from it, written with `serde_json::to_string`:
//!
//!   {"id":..,"customer":ID,"tier":..,"lines":N,"units":N,"distinct_tags":N,"weight_g":N,
//!    "max_item":{"sku":..,"price_cents":N},
//!    "categories":[{"name":..,"lines":N,"units":N,"cents":N}, ...],   (sorted by name)
//!    "subtotal_cents":N,"discount_cents":N,"shipping_cents":N,"vat_cents":N,"total_cents":N}
//!
//! Money is counted in whole cents: a price is rounded to cents once (`round(price * 100)`),
//! the coupon's discount is `subtotal * percent / 100` rounded down, shipping is free for the
//! gold tier from 50.00 after the discount, VAT is `round(net * vat_rate)` on the net
//! (subtotal - discount) plus shipping. Every number in the answer is an integer, so
//! serde_json and JSON.stringify write them alike.
//!
//! Statuses: 405 (with `Allow: POST`) for another method, 413 for a body over 64 KiB, 400
//! with `{"error":"..."}` for a body that is not UTF-8 or not an order (serde_json's message)
//! or whose values are out of range (below). Build:
//!
//!   cd bench/http/guests/order-rs && PATH=/usr/bin:/bin cargo build --offline --release
//!
//! (.cargo/config.toml points cargo at Debian's registry and the wasm32-wasi target);
//! serve.sh builds a copy under build/bench/http/ so that no Cargo.lock or target/ lands here.
use serde_derive::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::env;
use std::io::{self, Read, Write};

const BODY_MAX: u64 = 64 * 1024;
/// Bounds that keep every sum an exact integer below 2^53 (Node computes in doubles).
const PRICE_MAX: f64 = 1e6;
const QTY_MAX: u32 = 1000;
const WEIGHT_MAX: u32 = 1_000_000;
/// Shipping is free for the gold tier from this net amount.
const FREE_SHIPPING_CENTS: u64 = 5000;

#[derive(Deserialize)]
struct Order {
    id: String,
    customer: Customer,
    shipping: Shipping,
    coupon: Option<Coupon>,
    vat_rate: f64,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Customer {
    id: u32,
    tier: String,
}

#[derive(Deserialize)]
struct Shipping {
    cost: f64,
}

#[derive(Deserialize)]
struct Coupon {
    percent: u32,
}

#[derive(Deserialize)]
struct Item {
    sku: String,
    category: String,
    price: f64,
    qty: u32,
    weight_g: u32,
    tags: Vec<String>,
}

#[derive(Serialize)]
struct Summary<'a> {
    id: &'a str,
    customer: u32,
    tier: &'a str,
    lines: usize,
    units: u64,
    distinct_tags: usize,
    weight_g: u64,
    max_item: MaxItem<'a>,
    categories: Vec<Category<'a>>,
    subtotal_cents: u64,
    discount_cents: u64,
    shipping_cents: u64,
    vat_cents: u64,
    total_cents: u64,
}

#[derive(Serialize)]
struct MaxItem<'a> {
    sku: &'a str,
    price_cents: u64,
}

#[derive(Serialize, Default)]
struct Category<'a> {
    name: &'a str,
    lines: u64,
    units: u64,
    cents: u64,
}

/// An amount of money in whole cents; `what` names it in the error.
fn cents(amount: f64, what: &str) -> Result<u64, String> {
    if !(0.0..=PRICE_MAX).contains(&amount) {
        return Err(format!("{} must be between 0 and {}", what, PRICE_MAX));
    }
    Ok((amount * 100.0).round() as u64)
}

fn summarize(order: &Order) -> Result<Summary<'_>, String> {
    if order.items.is_empty() {
        return Err("an order needs one item or more".into());
    }
    if !(0.0..=1.0).contains(&order.vat_rate) {
        return Err("vat_rate must be between 0 and 1".into());
    }
    let mut units = 0u64;
    let mut weight = 0u64;
    let mut subtotal = 0u64;
    let mut max: Option<MaxItem> = None;
    let mut tags = HashSet::new();
    let mut categories: BTreeMap<&str, Category> = BTreeMap::new();
    for item in &order.items {
        let price = cents(item.price, "price")?;
        if item.qty == 0 || item.qty > QTY_MAX {
            return Err(format!("qty must be between 1 and {}", QTY_MAX));
        }
        if item.weight_g > WEIGHT_MAX {
            return Err(format!("weight_g must be at most {}", WEIGHT_MAX));
        }
        let qty = u64::from(item.qty);
        let line = price * qty;
        units += qty;
        weight += u64::from(item.weight_g) * qty;
        subtotal += line;
        if max.as_ref().map_or(true, |m| price > m.price_cents) {
            max = Some(MaxItem { sku: &item.sku, price_cents: price });
        }
        tags.extend(item.tags.iter().map(String::as_str));
        let c = categories.entry(&item.category).or_default();
        c.name = &item.category;
        c.lines += 1;
        c.units += qty;
        c.cents += line;
    }
    let percent = order.coupon.as_ref().map_or(0, |c| c.percent);
    if percent > 100 {
        return Err("coupon percent must be at most 100".into());
    }
    let discount = subtotal * u64::from(percent) / 100;
    let net = subtotal - discount;
    let mut shipping = cents(order.shipping.cost, "shipping cost")?;
    if order.customer.tier == "gold" && net >= FREE_SHIPPING_CENTS {
        shipping = 0;
    }
    let vat = ((net + shipping) as f64 * order.vat_rate).round() as u64;
    Ok(Summary {
        id: &order.id,
        customer: order.customer.id,
        tier: &order.customer.tier,
        lines: order.items.len(),
        units,
        distinct_tags: tags.len(),
        weight_g: weight,
        max_item: max.expect("items is not empty"),
        categories: categories.into_values().collect(),
        subtotal_cents: subtotal,
        discount_cents: discount,
        shipping_cents: shipping,
        vat_cents: vat,
        total_cents: net + shipping + vat,
    })
}

/// The CGI response: status line (when not 200), headers, a blank line, the body.
fn respond(status: &str, extra: &str, body: &str) -> io::Result<()> {
    let mut out = String::with_capacity(body.len() + 80);
    if !status.is_empty() {
        out += "Status: ";
        out += status;
        out += "\n";
    }
    out += extra;
    out += "Content-Type: application/json\n\n";
    out += body;
    let mut stdout = io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()
}

fn error(status: &str, extra: &str, msg: &str) -> io::Result<()> {
    #[derive(Serialize)]
    struct Error<'a> {
        error: &'a str,
    }
    let body = serde_json::to_string(&Error { error: msg }).expect("a string serializes");
    respond(status, extra, &body)
}

fn main() -> io::Result<()> {
    if env::var("REQUEST_METHOD").unwrap_or_default() != "POST" {
        return error("405 Method Not Allowed", "Allow: POST\n", "method not allowed: POST an order");
    }
    let mut raw = Vec::with_capacity(4096);
    io::stdin().lock().take(BODY_MAX + 1).read_to_end(&mut raw)?;
    if raw.len() as u64 > BODY_MAX {
        return error("413 Payload Too Large", "", &format!("request body larger than {} bytes", BODY_MAX));
    }
    let text = match String::from_utf8(raw) {
        Ok(t) => t,
        Err(_) => return error("400 Bad Request", "", "invalid UTF-8"),
    };
    let order: Order = match serde_json::from_str(&text) {
        Ok(o) => o,
        Err(e) => return error("400 Bad Request", "", &e.to_string()),
    };
    match summarize(&order) {
        Ok(s) => respond("", "", &serde_json::to_string(&s).expect("a summary serializes")),
        Err(msg) => error("400 Bad Request", "", &msg),
    }
}
