// The receptor dashboard: cells by zone and their instances, kept live from the
// public API. A snapshot (cells, actual and desired LRPs) is loaded whenever the
// event stream (re)connects; events arriving meanwhile are held back and applied
// on top, so nothing committed after the subscription is lost. A dropped stream
// is replaced by a fresh one (and a fresh snapshot) after RETRY_MS rather than
// resumed. Cells have no events, so they are re-read every CELL_REFRESH_MS.
// While one app is chosen, its instances' usage is read every USAGE_REFRESH_MS.
(function () {
  'use strict';

  var CELL_REFRESH_MS = 2000;
  var RETRY_MS = 1000;
  var MAX_HELD_EVENTS = 20000; // past this a snapshot is reloaded instead
  var USAGE_REFRESH_MS = 1000;

  var state = {
    cells: new Map(),   // cell_id -> cell presence
    lrps: new Map(),    // lrpKey -> actual LRP record
    desired: new Map(), // process_guid -> {instances, memory_mb}
    filter: '',
    usage: new Map(),   // instance_guid -> latest usage of the chosen app's instances
    held: null,         // events waiting for the snapshot being loaded, or null
    loadSeq: 0,         // the latest snapshot load; older answers are dropped
    loaded: false,      // a snapshot has been applied at least once
  };

  // An index may have an ORDINARY, an EVACUATING and a SUSPECT record at once.
  function lrpKey(a) {
    return a.process_guid + '\u0000' + a.index + '\u0000' + (a.presence || 'ORDINARY');
  }

  // older says whether rec is an earlier version of cur (same epoch, lower
  // index), i.e. a replayed event that the snapshot has already overtaken.
  function older(rec, cur) {
    var a = rec.modification_tag || {}, b = cur.modification_tag || {};
    return a.epoch === b.epoch && a.index < b.index;
  }

  function putLRP(rec) {
    var cur = state.lrps.get(lrpKey(rec));
    if (cur && older(rec, cur)) return;
    state.lrps.set(lrpKey(rec), rec);
  }

  function removeLRP(rec) {
    var cur = state.lrps.get(lrpKey(rec));
    if (cur && older(rec, cur)) return;
    state.lrps.delete(lrpKey(rec));
  }

  function putDesired(d) {
    state.desired.set(d.process_guid, { instances: d.instances || 0, memory_mb: d.memory_mb || 0 });
  }

  function apply(type, data) {
    switch (type) {
      case 'actual_lrp_created': putLRP(data.actual_lrp); break;
      case 'actual_lrp_changed':
        if (lrpKey(data.actual_lrp_before) !== lrpKey(data.actual_lrp_after)) removeLRP(data.actual_lrp_before);
        putLRP(data.actual_lrp_after);
        break;
      case 'actual_lrp_removed': removeLRP(data.actual_lrp); break;
      case 'desired_lrp_created': putDesired(data.desired_lrp); break;
      case 'desired_lrp_changed': putDesired(data.desired_lrp_after); break;
      case 'desired_lrp_removed': state.desired.delete(data.desired_lrp.process_guid); break;
    }
  }

  function onEvent(type, e) {
    var data;
    try { data = JSON.parse(e.data); } catch (err) { return; }
    if (state.held) {
      state.held.push([type, data]);
      if (state.held.length > MAX_HELD_EVENTS) loadSnapshot();
      return;
    }
    apply(type, data);
    scheduleRender();
  }

  function getJSON(path) {
    return fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' }).then(function (resp) {
      if (!resp.ok) throw new Error('GET ' + path + ': ' + resp.status + ' ' + resp.statusText);
      return resp.json();
    });
  }

  function loadSnapshot() {
    var seq = ++state.loadSeq;
    state.held = [];
    Promise.all([getJSON('v1/cells'), getJSON('v1/actual_lrps'), getJSON('v1/desired_lrps')]).then(function (r) {
      if (seq !== state.loadSeq) return;
      setCells(r[0]);
      state.lrps = new Map();
      (r[1] || []).forEach(function (a) { state.lrps.set(lrpKey(a), a); });
      state.desired = new Map();
      (r[2] || []).forEach(putDesired);
      var held = state.held;
      state.held = null;
      held.forEach(function (ev) { apply(ev[0], ev[1]); });
      showError('');
      state.loaded = true;
      scheduleRender();
    }).catch(function (err) {
      if (seq !== state.loadSeq) return;
      showError(err.message);
      setTimeout(function () { if (seq === state.loadSeq) loadSnapshot(); }, RETRY_MS);
    });
  }

  function setCells(list) {
    state.cells = new Map();
    (list || []).forEach(function (c) { state.cells.set(c.cell_id, c); });
  }

  function refreshCells() {
    getJSON('v1/cells').then(function (list) {
      setCells(list);
      if (!state.held) showError('');
      scheduleRender();
    }).catch(function (err) { showError(err.message); });
  }

  function connect() {
    var es = new EventSource('v1/events');
    es.onopen = function () {
      setStatus('live');
      loadSnapshot(); // on every (re)connect: the stream may have missed changes
    };
    es.onerror = function () {
      // Whether the stream dropped or was refused, start over: the browser's own
      // retry waits longer and the snapshot must be reloaded anyway.
      es.close();
      setStatus('reconnecting');
      setTimeout(connect, RETRY_MS);
    };
    ['actual_lrp_created', 'actual_lrp_changed', 'actual_lrp_removed',
      'desired_lrp_created', 'desired_lrp_changed', 'desired_lrp_removed'].forEach(function (type) {
      es.addEventListener(type, function (e) { onEvent(type, e); });
    });
  }

  function setStatus(s) {
    document.body.dataset.status = s;
    document.getElementById('status').textContent = s;
  }

  function showError(msg) {
    var el = document.getElementById('error');
    el.textContent = msg;
    el.hidden = !msg;
  }

  // Rendering is coalesced: a burst of events redraws once, on the next frame
  // (or within 200 ms when the page is hidden and frames do not run).
  var renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    var done = false;
    var run = function () {
      if (done) return;
      done = true;
      renderPending = false;
      render();
    };
    requestAnimationFrame(run);
    setTimeout(run, 200);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'style') Object.assign(node.style, attrs[k]);
      else if (k.indexOf('data-') === 0) node.setAttribute(k, String(attrs[k]));
      else node[k] = attrs[k];
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function byGuidIndex(a, b) {
    if (a.process_guid !== b.process_guid) return a.process_guid < b.process_guid ? -1 : 1;
    if (a.index !== b.index) return a.index - b.index;
    return (a.presence || '') < (b.presence || '') ? -1 : 1;
  }

  function mib(bytes) { return (bytes / 1048576).toFixed(1) + 'M'; }

  function usageText(u) {
    return 'cpu ' + u.cpu_percent.toFixed(1) + '% · mem ' + mib(u.memory_bytes) +
      (u.memory_limit_bytes ? ' of ' + mib(u.memory_limit_bytes) : '') +
      ' · disk ' + mib(u.disk_bytes) + (u.disk_limit_bytes ? ' of ' + mib(u.disk_limit_bytes) : '');
  }

  // refreshUsage reads the chosen app's usage; with no app chosen it forgets it.
  function refreshUsage() {
    var guid = state.filter;
    if (!guid) {
      if (state.usage.size) { state.usage = new Map(); scheduleRender(); }
      return;
    }
    getJSON('v1/actual_lrps/' + encodeURIComponent(guid) + '/metrics').then(function (list) {
      if (guid !== state.filter) return;
      var usage = new Map();
      (list || []).forEach(function (u) { if (u.timestamp) usage.set(u.instance_guid, u); });
      state.usage = usage;
      scheduleRender();
    }).catch(function () { /* usage is optional: a receptor without NATS has none */ });
  }

  function square(a) {
    var presence = a.presence || 'ORDINARY';
    var u = a.instance_guid ? state.usage.get(a.instance_guid) : null;
    var tip = a.process_guid + ' #' + a.index + '\n' + a.state +
      (presence !== 'ORDINARY' ? ' (' + presence + ')' : '') +
      (a.cell_id ? '\ncell ' + a.cell_id : '') +
      (a.address ? '\n' + a.address + portsText(a.ports) : '') +
      (a.crash_count ? '\ncrashes ' + a.crash_count + (a.crash_reason ? ': ' + a.crash_reason : '') : '') +
      (a.placement_error ? '\nplacement error: ' + a.placement_error : '') +
      (u ? '\n' + usageText(u) : '');
    return el('span', {
      className: 'lrp', title: tip,
      'data-process-guid': a.process_guid, 'data-index': a.index, 'data-state': a.state,
      'data-presence': presence, 'data-cell-id': a.cell_id || '', 'data-instance-guid': a.instance_guid || '',
      'data-crash-count': a.crash_count || 0, 'data-crashed-before': !!a.crash_count,
      'data-placement-error': !!a.placement_error,
      'data-cpu-percent': u ? u.cpu_percent.toFixed(1) : '', 'data-memory-bytes': u ? u.memory_bytes : '',
    });
  }

  function plural(n, noun) {
    return n + ' ' + noun + (n === 1 ? '' : 's');
  }

  function portsText(ports) {
    if (!ports || !ports.length) return '';
    return ' ' + ports.map(function (p) { return p.host_port + '->' + p.container_port; }).join(', ');
  }

  function cellBox(cell, lrps, missing) {
    var cap = (cell && cell.capacity) || {};
    var mem = 0;
    lrps.forEach(function (a) { var d = state.desired.get(a.process_guid); if (d) mem += d.memory_mb; });
    var capText = missing ? 'cell no longer present' :
      'mem ' + mem + ' / ' + (cap.memory_mb || 0) + ' MB · disk ' + (cap.disk_mb || 0) + ' MB · ' +
      lrps.length + ' / ' + (cap.containers || 0) + ' containers';
    var used = cap.containers ? Math.min(1, lrps.length / cap.containers) : 0;
    return el('div', { className: 'cell', 'data-cell-id': cell.cell_id, 'data-zone': cell.zone || '', 'data-instance-count': lrps.length, 'data-missing': !!missing }, [
      el('div', { className: 'cell-head' }, [
        el('span', { className: 'cell-id', text: cell.cell_id }),
        el('span', { className: 'count', text: plural(lrps.length, 'instance') }),
      ]),
      el('div', { className: 'cell-cap', text: capText }),
      missing ? null : el('div', { className: 'bar' + (used >= 1 ? ' full' : '') }, [el('span', { style: { width: Math.round(used * 100) + '%' } })]),
      el('div', { className: 'squares' }, lrps.map(square)),
    ]);
  }

  function render() {
    var filter = state.filter;
    var visible = [];
    state.lrps.forEach(function (a) { if (!filter || a.process_guid === filter) visible.push(a); });
    visible.sort(byGuidIndex);

    // Totals, by state and by non-ordinary presence.
    var counts = { cells: state.cells.size, instances: visible.length, RUNNING: 0, CLAIMED: 0, UNCLAIMED: 0, CRASHED: 0, EVACUATING: 0, SUSPECT: 0 };
    visible.forEach(function (a) {
      if (a.state in counts) counts[a.state]++;
      if (a.presence === 'EVACUATING' || a.presence === 'SUSPECT') counts[a.presence]++;
    });
    Object.keys(counts).forEach(function (k) {
      var node = document.querySelector('#totals [data-count="' + k + '"]');
      if (node) node.textContent = counts[k];
    });

    // Instances by cell; those on no cell go to the pending area.
    var onCell = new Map(), pending = [];
    visible.forEach(function (a) {
      if (!a.cell_id) { pending.push(a); return; }
      if (!onCell.has(a.cell_id)) onCell.set(a.cell_id, []);
      onCell.get(a.cell_id).push(a);
    });

    var zones = new Map();
    state.cells.forEach(function (c) {
      var z = c.zone || '(no zone)';
      if (!zones.has(z)) zones.set(z, []);
      zones.get(z).push(c);
    });
    var zoneNodes = Array.from(zones.keys()).sort().map(function (z) {
      var cells = zones.get(z).sort(function (a, b) { return a.cell_id < b.cell_id ? -1 : 1; });
      var n = 0;
      var boxes = cells.map(function (c) { var l = onCell.get(c.cell_id) || []; n += l.length; return cellBox(c, l, false); });
      return el('div', { className: 'zone', 'data-zone': z }, [
        el('h2', {}, [el('span', { text: 'zone ' + z }), el('span', { text: plural(cells.length, 'cell') + ' · ' + plural(n, 'instance') })]),
      ].concat(boxes));
    });
    // Records still naming a cell that has gone (its lease expired).
    var gone = Array.from(onCell.keys()).filter(function (id) { return !state.cells.has(id); }).sort();
    if (gone.length) {
      zoneNodes.push(el('div', { className: 'zone', 'data-zone': '' }, [el('h2', { text: 'cells gone' })].concat(
        gone.map(function (id) { return cellBox({ cell_id: id }, onCell.get(id), true); }))));
    }
    if (!zoneNodes.length) zoneNodes.push(el('p', { className: 'empty', text: 'No cells are present.' }));
    document.getElementById('zones').replaceChildren(...zoneNodes);

    var pendingArea = document.getElementById('pending');
    pendingArea.querySelector('[data-count="pending"]').textContent = pending.length;
    pendingArea.querySelector('.squares').replaceChildren(...(pending.length ? pending.map(square) :
      [el('span', { className: 'empty', text: 'none' })]));

    renderApps();
    renderUsage(visible);
    // Tells tests (and curious people) that the drawing shows a loaded snapshot.
    if (state.loaded) document.body.dataset.loaded = 'true';
  }

  function renderApps() {
    var apps = new Map();
    function app(guid) {
      if (!apps.has(guid)) apps.set(guid, { running: new Set(), CLAIMED: 0, UNCLAIMED: 0, CRASHED: 0 });
      return apps.get(guid);
    }
    state.desired.forEach(function (d, guid) { app(guid); });
    state.lrps.forEach(function (a) {
      var s = app(a.process_guid);
      if (a.state === 'RUNNING') s.running.add(a.index); // an evacuating copy is the same index
      else if (a.state in s && a.presence !== 'SUSPECT') s[a.state]++;
    });
    var guids = Array.from(apps.keys()).sort();

    var rows = guids.map(function (guid) {
      var s = apps.get(guid), d = state.desired.get(guid);
      var desired = d ? d.instances : 0;
      return el('tr', {
        'data-process-guid': guid, 'data-running': s.running.size, 'data-desired': desired,
        'data-selected': guid === state.filter, 'data-short': s.running.size < desired,
        onclick: function () { setFilter(state.filter === guid ? '' : guid); },
      }, [
        el('td', { className: 'guid', text: guid }),
        el('td', { className: 'ratio', text: s.running.size + ' / ' + (d ? desired : '-') }),
        el('td', { text: s.CLAIMED }),
        el('td', { text: s.UNCLAIMED }),
        el('td', { text: s.CRASHED }),
      ]);
    });
    if (!rows.length) rows.push(el('tr', {}, [el('td', { className: 'empty', colSpan: 5, text: 'No apps.' })]));
    document.querySelector('#apps tbody').replaceChildren(...rows);

    // Keep the current choice listed even if its app has gone, so that the
    // view does not silently widen.
    if (state.filter && guids.indexOf(state.filter) < 0) guids.push(state.filter);
    // Rebuilt only when the list changes, so that an open drop-down stays open.
    var select = document.getElementById('app-filter');
    var listed = guids.join('\u0000');
    if (select.dataset.listed !== listed) {
      select.dataset.listed = listed;
      select.replaceChildren(el('option', { value: '', text: 'all apps' }),
        ...guids.map(function (g) { return el('option', { value: g, text: g }); }));
    }
    select.value = state.filter;
  }

  // renderUsage lists the chosen app's instances with their latest usage.
  function renderUsage(visible) {
    var area = document.getElementById('usage-area');
    area.hidden = !state.filter;
    if (area.hidden) return;
    var rows = visible.filter(function (a) { return a.instance_guid && (a.presence || 'ORDINARY') === 'ORDINARY'; })
      .sort(byGuidIndex).map(function (a) {
        var u = state.usage.get(a.instance_guid);
        return el('tr', { 'data-index': a.index, 'data-cpu-percent': u ? u.cpu_percent.toFixed(1) : '', 'data-memory-bytes': u ? u.memory_bytes : '' }, [
          el('td', { text: a.index }),
          el('td', { text: a.cell_id || '-' }),
          el('td', { text: u ? u.cpu_percent.toFixed(1) + '%' : '-' }),
          el('td', { text: u ? mib(u.memory_bytes) + (u.memory_limit_bytes ? ' of ' + mib(u.memory_limit_bytes) : '') : '-' }),
          el('td', { text: u ? mib(u.disk_bytes) + (u.disk_limit_bytes ? ' of ' + mib(u.disk_limit_bytes) : '') : '-' }),
        ]);
      });
    if (!rows.length) rows.push(el('tr', {}, [el('td', { className: 'empty', colSpan: 5, text: 'No placed instances.' })]));
    document.querySelector('#usage tbody').replaceChildren(...rows);
  }

  function setFilter(guid) {
    if (state.filter !== guid) state.usage = new Map();
    state.filter = guid;
    refreshUsage();
    var hash = guid ? '#app=' + encodeURIComponent(guid) : '';
    if (location.hash !== hash) history.replaceState(null, '', hash || location.pathname + location.search);
    render();
  }

  function filterFromHash() {
    var m = /^#app=(.*)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : '';
  }

  // Pointing at an instance or an app's row picks out that app's squares.
  function highlight(guid) {
    document.querySelectorAll('.lrp[data-process-guid]').forEach(function (n) {
      n.classList.toggle('dim', !!guid && n.dataset.processGuid !== guid);
    });
  }
  document.querySelector('main').addEventListener('mouseover', function (e) {
    var t = e.target.closest('[data-process-guid]');
    highlight(t ? t.dataset.processGuid : '');
  });
  document.querySelector('main').addEventListener('mouseleave', function () { highlight(''); });

  state.filter = filterFromHash();
  document.getElementById('app-filter').addEventListener('change', function (e) { setFilter(e.target.value); });
  window.addEventListener('hashchange', function () { setFilter(filterFromHash()); });
  setInterval(refreshCells, CELL_REFRESH_MS);
  setInterval(refreshUsage, USAGE_REFRESH_MS);
  connect();
  render();
})();
