// Transient checkout page: keeps the server-rendered page live by polling the
// payment's public view (no key on the customer's side). Amounts are shown exactly
// as the API writes them (decimal strings), only with the page language's separators
// (fmt); nothing here computes with money. Text goes in with textContent only, and the
// words come from the page (data-t-*), in its language.
(function () {
  "use strict";
  var root = document.getElementById("checkout");
  if (!root) { return; }
  var data = root.dataset;
  var skew = Date.parse(data.now) - Date.now();  // server clock minus ours
  var expires = data.expires ? Date.parse(data.expires) : null;
  var every = Math.max(1, Number(data.refresh) || 5) * 1000;
  var qr = document.getElementById("qr");
  var shownDue = null;
  var leaving = false;
  var shownTxs = null;

  // "1234.5" -> "1.234,5" in de: the digits as they are, the separators of data-lang.
  function fmt(text) {
    var m = /^(-?)([0-9]+)(?:\.([0-9]+))?$/.exec(String(text));
    if (!m) { return String(text); }
    var whole = m[2];
    if (whole.length >= Number(data.minGroup || 4)) {
      var head = whole.length % 3 || 3, parts = [whole.slice(0, head)];
      for (var i = head; i < whole.length; i += 3) { parts.push(whole.slice(i, i + 3)); }
      whole = parts.join(data.group);
    }
    return m[1] + whole + (m[3] ? data.decimal + m[3] : "");
  }

  function t(name, values) {
    return (data["t" + name] || "").replace(/\{(\w+)\}/g, function (all, key) {
      return values && key in values ? String(values[key]) : all;
    });
  }

  // EXPIRED splits three ways on the page; the same rule as checkout.page_state().
  function pageState(p) {
    if (p.status !== "EXPIRED") { return p.status; }
    if (p.paid_late) { return "EXPIRED_LATE"; }
    return p.amount_received !== "0" ? "EXPIRED_PARTIAL" : "EXPIRED";
  }

  function setField(name, value, shown) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
      el.textContent = shown === undefined ? String(value) : shown;
      if (el.dataset.value !== undefined) { el.dataset.value = String(value); }
    });
  }

  function show(p) {
    root.dataset.state = pageState(p);
    ["amount_due", "amount_received", "amount_overpaid"].forEach(function (name) {
      setField(name, p[name], fmt(p[name]));
    });
    setField("confirmations_required", p.confirmations_required);
    setField("confirmations", p.confirmations);  // the public view's count
    showTransactions(p);
    if (p.amount_due !== shownDue && p.payment_uri) {
      // A new URL per amount due: the browser fetches the code for the remainder.
      shownDue = p.amount_due;
      qr.src = data.qr + "?v=" + encodeURIComponent(p.amount_due);
      qr.alt = t("QrAlt", { qr_amount: fmt(p.amount_due) + " " + p.currency, qr_address: p.payment_address });
      document.getElementById("wallet").href = p.payment_uri;
    }
    if (p.paid && p.redirect_url && !data.redirect) {
      // The public view names the redirect only once the payment is paid.
      data.redirect = p.redirect_url;
      var back = document.getElementById("return");
      back.href = p.redirect_url;
      document.getElementById("done").hidden = false;
    }
    leaveIfPaid(p.paid);
  }

  // The transactions seen, built as the server builds them (page._tx_items).
  function showTransactions(p) {
    var counted = (p.transactions || []).filter(function (tx) {
      return tx.status === "pending" || tx.status === "confirmed";
    });
    var key = JSON.stringify(counted.map(function (tx) { return [tx.txid, tx.vout, tx.confirmations]; }));
    if (key === shownTxs) { return; }  // unchanged: the buttons stay (and keep the focus)
    shownTxs = key;
    var list = document.getElementById("tx-list");
    list.replaceChildren();
    counted.forEach(function (tx) {
      var li = document.createElement("li"), amount = document.createElement("span");
      var code = document.createElement("code"), conf = document.createElement("span");
      li.className = "tx";
      amount.className = "tx-amount";
      amount.textContent = fmt(tx.amount) + " " + p.currency;
      code.className = "txid";
      code.title = tx.txid;
      code.textContent = tx.txid.length <= 20 ? tx.txid : tx.txid.slice(0, 8) + "\u2026" + tx.txid.slice(-8);
      conf.className = "tx-conf";
      conf.textContent = t("Confirmations", { count: Math.max(0, tx.confirmations), required: p.confirmations_required });
      li.append(amount, " ", code, " ", copyButton(tx.txid), " ", conf);
      list.append(li);
    });
    document.getElementById("txs").hidden = counted.length === 0;
  }

  function copyButton(txid) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button small";
    button.dataset.copy = "txid";
    button.dataset.value = txid;
    button.setAttribute("aria-label", t("TxCopy"));
    button.textContent = t("Copy");
    return button;
  }

  // After payment, back to the merchant's redirect_url (a link says so too).
  function leaveIfPaid(paid) {
    if (paid && data.redirect && !leaving) {
      leaving = true;
      setTimeout(function () { window.location.assign(data.redirect); }, 3000);
    }
  }

  function poll() {
    fetch(data.api, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (resp) { return resp.ok ? resp.json() : Promise.reject(resp.status); })
      .then(function (body) {
        document.getElementById("offline").hidden = true;
        show(body.payment);
      })
      .catch(function () { document.getElementById("offline").hidden = false; })
      .then(function () { setTimeout(poll, every); });
  }

  function countdown() {
    var el = document.getElementById("countdown");
    if (!el || expires === null) { return; }
    var left = Math.max(0, Math.floor((expires - (Date.now() + skew)) / 1000));
    var h = Math.floor(left / 3600), m = Math.floor(left / 60) % 60, s = left % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    el.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s);
    if (left > 0) { setTimeout(countdown, 1000); }
  }

  // Every copy button: the address (its textarea), the amount due (exact, as the API
  // writes it: what a wallet reads), a txid (data-value). One listener for all of them,
  // so the buttons of a rebuilt transaction list work too.
  function copyText(button) {
    if (button.dataset.copy === "address") { return document.getElementById("address").value; }
    if (button.dataset.copy === "amount") {
      return document.querySelector('#pay [data-field="amount_due"]').dataset.value;
    }
    return button.dataset.value;
  }

  function setUpCopy() {
    var done = { address: "AddressCopied", amount: "AmountCopied", txid: "TxidCopied" };
    root.querySelectorAll("button[data-copy]").forEach(function (b) { b.hidden = false; });
    root.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-copy]");
      if (!button) { return; }
      var text = copyText(button);
      // Said next to the button: each section that has copy buttons has its own status line.
      var said = button.closest("section").querySelector("[role=status]");
      var ok = function () { said.textContent = t(done[button.dataset.copy] || "Copied"); };
      var fallback = function () {
        var area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.className = "visually-hidden";
        document.body.append(area);
        area.select();
        try {
          if (!document.execCommand("copy")) { throw new Error("refused"); }
          ok();
        } catch (e) {
          said.textContent = t("CopyFail");
        }
        area.remove();
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(ok, fallback);
      } else {
        fallback();
      }
    });
  }

  // The whole address in view, however it wraps (a long one on a narrow phone): one row
  // more until nothing is left to scroll.
  function fitAddress() {
    var area = document.getElementById("address");
    while (area.rows < 6 && area.scrollHeight > area.clientHeight + 1) { area.rows += 1; }
  }

  // The page is fresh from the server: the first poll comes after one interval.
  shownDue = document.querySelector('#pay [data-field="amount_due"]').dataset.value;
  setUpCopy();
  fitAddress();
  countdown();
  leaveIfPaid(data.state === "PAID" || data.state === "OVERPAID");
  setTimeout(poll, every);
}());
