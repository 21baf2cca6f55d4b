/* Pilot-Region Carbon Atlas: the compensation panel of a pilot page, computed in the browser.
 *
 * The formulas are those of atlas/carbon/compensation.py (the browser tests compare the two):
 *   annuity(years, r, g) = sum_{t=0}^{years-1} ((1 + g) / (1 + r))^t
 *   removals: payment = price * max(sink, 0);                NPV = payment * annuity
 *   balance:  balance = sink - emissions; deficit = max(-balance, 0), surplus = max(balance, 0)
 *             pool = price * share * (sum of deficits of the ledger's regions)
 *             transfer = pool * surplus / (sum of surpluses) - price * share * deficit
 *             (nothing is collected when no region is in surplus); NPV = transfer * annuity
 * Money is written like atlas/publish/fields.py (fmt_money_zh / fmt_money_en): 亿元 / 万元 / 元,
 * three significant digits, thousands separators.
 *
 * The page embeds <script type="application/json" id="atlas-compensation"> with
 *   {sink: {low, central, high}, emissions, pool: {low: {deficit, surplus}, ...},
 *    defaults: {price, rate, years, growth, scheme, estimate, contribution_share}}
 * Inputs: [data-param=price|rate|years|growth|scheme|estimate] (rate and growth in percent);
 * outputs: [data-output=payment-low|payment-central|payment-high|npv-...] with data-value in yuan.
 */
(function () {
  "use strict";

  var ESTIMATES = ["low", "central", "high"];

  function fmtNumber(value, digits) {
    digits = digits || 3;
    if (value === 0 || !isFinite(value)) { return value === 0 ? "0" : String(value); }
    var magnitude = Math.floor(Math.log10(Math.abs(value)));
    var decimals = Math.max(0, digits - 1 - magnitude);
    return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }

  function fmtPlain(value) {
    // a parameter as typed: up to 6 significant digits, no trailing zeros (95.96, 8, 2.5)
    return Number(value.toPrecision(6)).toLocaleString("en-US", { maximumFractionDigits: 6 });
  }

  function moneyZh(value) {
    var size = Math.abs(value);
    if (size >= 1e8) { return fmtNumber(value / 1e8) + " 亿元"; }
    if (size >= 1e4) { return fmtNumber(value / 1e4) + " 万元"; }
    return fmtNumber(value) + " 元";
  }

  function moneyEn(value) {
    var size = Math.abs(value);
    if (size >= 1e9) { return "CNY " + fmtNumber(value / 1e9) + " bn"; }
    if (size >= 1e6) { return "CNY " + fmtNumber(value / 1e6) + " M"; }
    if (size >= 1e3) { return "CNY " + fmtNumber(value / 1e3) + " k"; }
    return "CNY " + fmtNumber(value);
  }

  function annuity(years, rate, growth) {
    var total = 0;
    for (var t = 0; t < years; t += 1) { total += Math.pow((1 + growth) / (1 + rate), t); }
    return total;
  }

  /* Annual amount (CNY/yr) and NPV (CNY) for one estimate; params use fractions. */
  function compute(data, params, estimate) {
    var sink = data.sink[estimate];
    var factor = annuity(params.years, params.rate, params.growth);
    var annual;
    if (params.scheme === "balance") {
      if (data.emissions === null || data.emissions === undefined) { return null; }
      var share = params.contribution_share;
      var balance = sink - data.emissions;
      var deficit = Math.max(-balance, 0);
      var surplus = Math.max(balance, 0);
      var pool = data.pool[estimate];
      if (!(pool.surplus > 0)) {
        annual = 0;
      } else {
        annual = params.price * share * pool.deficit * surplus / pool.surplus - params.price * share * deficit;
      }
    } else {
      annual = params.price * Math.max(sink, 0);
    }
    return { annual: annual, npv: annual * factor, annuity: factor };
  }

  function readParams(panel, defaults) {
    function num(name, fallback) {
      var input = panel.querySelector("[data-param=" + name + "]");
      var value = input ? parseFloat(input.value) : NaN;
      return isFinite(value) ? value : fallback;
    }
    var scheme = panel.querySelector("[data-param=scheme]");
    return {
      price: Math.max(0, num("price", defaults.price)),
      rate: num("rate", defaults.rate * 100) / 100,
      years: Math.max(1, Math.round(num("years", defaults.years))),
      growth: num("growth", defaults.growth * 100) / 100,
      scheme: scheme ? scheme.value : defaults.scheme,
      contribution_share: defaults.contribution_share
    };
  }

  function problem(params) {
    if (!(params.rate >= 0 && params.rate <= 1)) { return "贴现率应在 0–100 % 之间 The discount rate must be 0–100 %"; }
    if (!(params.growth > -1 && params.growth <= 1)) { return "价格增长率应在 −100–100 % 之间 Price growth must be above −100 % and at most 100 %"; }
    return "";
  }

  function update(panel, data) {
    var params = readParams(panel, data.defaults);
    var message = problem(params);
    var note = panel.querySelector("[data-output=problem]");
    if (note) { note.textContent = message; }
    ESTIMATES.forEach(function (estimate) {
      var result = message ? null : compute(data, params, estimate);
      ["payment", "npv"].forEach(function (kind) {
        panel.querySelectorAll("[data-output=" + kind + "-" + estimate + "]").forEach(function (node) {
          if (!result) {
            node.textContent = "—";
            node.removeAttribute("data-value");
            return;
          }
          var value = kind === "payment" ? result.annual : result.npv;
          node.setAttribute("data-value", String(value));
          node.textContent = moneyZh(value);
          node.setAttribute("title", moneyEn(value));
          var en = node.parentNode.querySelector("[data-output-en=" + kind + "-" + estimate + "]");
          if (en) { en.textContent = moneyEn(value); }
        });
      });
    });
    var summary = panel.querySelector("[data-output=summary]");
    if (summary) {
      summary.textContent = message ? "" :
        "碳价 " + fmtPlain(params.price) + " 元/吨 · 贴现率 " + fmtPlain(params.rate * 100) + " % · " +
        params.years + " 年 · 价格年增长 " + fmtPlain(params.growth * 100) + " % · 现值系数 " +
        fmtNumber(annuity(params.years, params.rate, params.growth), 4) + " — price CNY " + fmtPlain(params.price) +
        "/t CO₂, discount " + fmtPlain(params.rate * 100) + " %, " + params.years + " years, price growth " +
        fmtPlain(params.growth * 100) + " %/yr, annuity factor " + fmtNumber(annuity(params.years, params.rate, params.growth), 4);
    }
  }

  function bind() {
    var holder = document.getElementById("atlas-compensation");
    var panel = document.querySelector("[data-panel=compensation]");
    if (!holder || !panel) { return; }
    var data = JSON.parse(holder.textContent);
    panel.querySelectorAll("[data-param]").forEach(function (input) {
      input.addEventListener("input", function () { update(panel, data); });
      input.addEventListener("change", function () { update(panel, data); });
    });
    var reset = panel.querySelector("[data-action=reset]");
    if (reset) {
      reset.addEventListener("click", function () {
        var d = data.defaults;
        var values = { price: d.price, rate: d.rate * 100, years: d.years, growth: d.growth * 100, scheme: d.scheme };
        Object.keys(values).forEach(function (name) {
          var input = panel.querySelector("[data-param=" + name + "]");
          if (input) { input.value = String(values[name]); }
        });
        update(panel, data);
      });
    }
    update(panel, data);
    panel.setAttribute("data-ready", "1");
  }

  window.AtlasCompensation = { annuity: annuity, compute: compute, moneyZh: moneyZh, moneyEn: moneyEn,
                               fmtNumber: fmtNumber, bind: bind };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bind);
  } else {
    bind();
  }
})();
