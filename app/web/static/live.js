/* planpulse: the dashboard's figures, kept up to date (docs/dashboard.md, "Live updates").
 *
 * The page is complete without this script. With it, the block that names the mandate's
 * change stream (data-live-changes) and its progress JSON (data-live-progress) listens to
 * the stream; after each burst of changes it reads the progress again and rewrites every
 * element marked data-figure="progress|completion_rate|deliverables|by_status.<status>"
 * inside a data-totals="mandate|action_line" block, then says what changed in the
 * data-live-status region (aria-live="polite"). No framework, nothing from elsewhere.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-live-changes][data-live-progress]");
  if (!root || typeof window.EventSource !== "function" || typeof window.fetch !== "function") {
    return;
  }

  var QUIET_MS = 250;    // a batch's events arrive together: wait this long after the last,
  var AT_MOST_MS = 2000; // but read the figures at most this long after the first
  var RETRY_MS = 5000;   // a failed read is tried again after this long
  var NAMED = 3;         // changes named in the announcement; the rest are counted
  var NOTHING = "\u2014";
  var RATIOS = {progress: true, completion_rate: true};

  var progressUrl = root.getAttribute("data-live-progress");
  var changesUrl = new URL(root.getAttribute("data-live-changes"), window.location.href);
  var types = (root.getAttribute("data-live-events") || "").split(/\s+/).filter(Boolean);
  var status = document.querySelector("[data-live-status]");

  var source = null;
  var lastId = null;
  var pending = [];
  var timer = null;
  var firstHeard = 0;
  var reading = false;
  var stopped = false;

  /* A ratio as a whole percentage, halves up, as the server prints it: 0.7846 -> 78. */
  function wholePercent(ratio) {
    if (ratio === null || ratio === undefined) {
      return null;
    }
    return Math.floor((Math.round(ratio * 10000) + 50) / 100);
  }

  /* A number as the template writes it into value="" (Python's repr: 1.0, 0.7846). */
  function machine(value) {
    if (value === null || value === undefined) {
      return "";
    }
    return Number.isInteger(value) ? value.toFixed(1) : String(value);
  }

  function lookup(totals, name) {
    return name.split(".").reduce(function (value, key) {
      return value === null || value === undefined ? undefined : value[key];
    }, totals);
  }

  function show(element, name, value) {
    if (element.getAttribute("role") === "progressbar") {
      var width = Math.min(wholePercent(value) || 0, 100);
      element.setAttribute("aria-valuenow", String(width));
      if (value === null) {
        element.setAttribute("aria-valuetext", "no figure");
      } else {
        element.removeAttribute("aria-valuetext");
      }
      var fill = element.querySelector("span");
      if (fill) {
        fill.style.width = width + "%";
      }
      return;
    }
    if (RATIOS[name]) {
      if (element.tagName === "DATA") {
        element.setAttribute("value", machine(value));
      }
      element.textContent = value === null ? NOTHING : wholePercent(value) + "%";
    } else {
      element.textContent = String(value);
    }
  }

  function totalsOf(block, progress) {
    var scope = block.getAttribute("data-totals");
    if (scope === "mandate") {
      return progress.totals;
    }
    if (scope === "action_line") {
      var code = block.getAttribute("data-code");
      var lines = progress.action_lines || [];
      for (var i = 0; i < lines.length; i++) {
        if (lines[i].code === code) {
          return lines[i].totals;
        }
      }
    }
    return null;
  }

  function update(progress) {
    document.querySelectorAll("[data-totals]").forEach(function (block) {
      var totals = totalsOf(block, progress);
      if (!totals) {
        return;
      }
      block.querySelectorAll("[data-figure]").forEach(function (element) {
        if (element.closest("[data-totals]") !== block) {
          return;
        }
        var name = element.getAttribute("data-figure");
        var value = lookup(totals, name);
        if (value !== undefined) {
          show(element, name, value);
        }
      });
    });
  }

  function describe(change) {
    var data = change.data || {};
    switch (change.type) {
      case "deliverable.status_changed":
        return data.deliverable + " \u2192 " + String(data.to_status).replace(/_/g, " ") +
          (data.percent_complete !== null && data.percent_complete !== undefined
            ? " (" + data.percent_complete + "%)" : "");
      case "indicator.value_recorded":
        return data.indicator + (data.period ? " " + data.period : "") + " value recorded";
      case "plan.imported":
        return "plan imported";
      case "records.changed":
        return "records changed" + (data.what ? " (" + data.what + ")" : "");
      default:
        return change.type || "a change";
    }
  }

  function announce(batch) {
    if (!status || batch.length === 0) {
      return;
    }
    var named = batch.slice(0, NAMED).map(describe);
    var more = batch.length - named.length;
    var authors = [];
    batch.forEach(function (change) {
      var name = change.author && change.author.name;
      if (name && authors.indexOf(name) < 0) {
        authors.push(name);
      }
    });
    status.textContent = "Updated: " + named.join(", ") +
      (more > 0 ? ", and " + more + " more" : "") +
      (authors.length ? " by " + authors.join(", ") : "");
  }

  function schedule(wait) {
    if (stopped) {
      return;
    }
    var now = Date.now();
    if (!firstHeard) {
      firstHeard = now;
    }
    clearTimeout(timer);
    timer = setTimeout(read, wait !== undefined ? wait
      : Math.max(0, Math.min(QUIET_MS, firstHeard + AT_MOST_MS - now)));
  }

  function read() {
    timer = null;
    firstHeard = 0;
    if (reading || stopped) {
      return; // what came meanwhile is read when the current read ends
    }
    var batch = pending;
    pending = [];
    reading = true;
    fetch(progressUrl, {headers: {Accept: "application/json"}, cache: "no-cache"})
      .then(function (answer) {
        if (answer.status === 401 || answer.status === 403) {
          stop(); // reads need a token this page was not given: stay as served
          return null;
        }
        if (!answer.ok) {
          throw new Error("progress: " + answer.status);
        }
        return answer.json();
      })
      .then(function (progress) {
        if (progress) {
          update(progress);
          announce(batch);
        }
      }, function () {
        pending = batch.concat(pending);
        schedule(RETRY_MS);
      })
      .then(function () {
        reading = false;
        if (pending.length && !timer) {
          schedule();
        }
      });
  }

  function heard(event) {
    if (event.lastEventId) {
      lastId = event.lastEventId;
    }
    var change;
    try {
      change = JSON.parse(event.data);
    } catch (error) {
      change = null;
    }
    pending.push(change && typeof change === "object" ? change : {type: event.type});
    schedule();
  }

  function open() {
    if (lastId !== null) {
      changesUrl.searchParams.set("since", lastId);
    }
    source = new EventSource(changesUrl.href);
    types.forEach(function (type) {
      source.addEventListener(type, heard);
    });
    source.addEventListener("message", heard);
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    if (source) {
      source.close();
    }
  }

  // Leaving the page closes the stream; coming back to it (the back button) resumes
  // after the last change heard.
  window.addEventListener("pagehide", function () {
    if (source) {
      source.close();
      source = null;
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !source && !stopped) {
      open();
    }
  });
  open();
}());
