// Transient checkout page: keeps the server-rendered page live by polling the
// payment's public view (no key on the customer's side). Amounts are shown exactly
// as the API writes them (decimal strings); nothing here computes with money. Text
// goes in with textContent only.
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

  // EXPIRED splits three ways on the page; the same rule as checkout.page_state().
  function pageState(p) {
    if (p.status !== "EXPIRED") { return p.status; }
    if (p.paid_late) { return "EXPIRED_LATE"; }
    return p.amount_received !== "0" ? "EXPIRED_PARTIAL" : "EXPIRED";
  }

  function setField(name, value) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
      el.textContent = String(value);
    });
  }

  function show(p) {
    root.dataset.state = pageState(p);
    ["amount_due", "amount_received", "amount_overpaid", "confirmations_required"].forEach(function (name) {
      setField(name, p[name]);
    });
    setField("confirmations", p.confirmations);  // the public view's count
    if (p.amount_due !== shownDue && p.payment_uri) {
      // A new URL per amount due: the browser fetches the code for the remainder.
      shownDue = p.amount_due;
      qr.src = data.qr + "?v=" + encodeURIComponent(p.amount_due);
      qr.alt = "QR code: send " + p.amount_due + " " + p.currency + " to " + p.payment_address;
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

  function setUpCopy() {
    var button = document.getElementById("copy");
    var input = document.getElementById("address");
    var said = document.getElementById("copied");
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { said.textContent = "Address copied."; };
      var fallback = function () {
        input.select();
        try {
          document.execCommand("copy");
          done();
        } catch (e) {
          said.textContent = "Select the address and copy it.";
        }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  // The page is fresh from the server: the first poll comes after one interval.
  shownDue = document.querySelector('#pay [data-field="amount_due"]').textContent;
  setUpCopy();
  countdown();
  leaveIfPaid(data.state === "PAID" || data.state === "OVERPAID");
  setTimeout(poll, every);
}());
