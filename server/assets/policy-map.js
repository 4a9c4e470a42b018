// daka console: drawing on a site's map. The form fields stay the source of truth (they work
// without this script and from the keyboard); this script draws them on the map, lets the
// pointer change them (click to add a corner of a new polygon, drag corners, a circle's centre
// or its edge), and asks the server for the fence advisor's numbers as they change.
(function () {
  'use strict';
  var svg = document.getElementById('site-map');
  var form = document.getElementById('site-form');
  if (!svg || !form) { return; }
  var NS = 'http://www.w3.org/2000/svg';
  var lat0 = +svg.getAttribute('data-lat0');
  var lon0 = +svg.getAttribute('data-lon0');
  var kx = +svg.getAttribute('data-kx');
  var ky = +svg.getAttribute('data-ky');
  var vb = svg.getAttribute('viewBox').split(' ').map(Number);
  var handleR = vb[2] / 90;
  var live = document.getElementById('map-live');
  var drawn = document.getElementById('map-fences');

  function field(name) { return form.elements.namedItem(name); }
  function value(name) { var f = field(name); return f ? f.value : ''; }
  function xy(lat, lon) { return [(lon - lon0) * kx, -(lat - lat0) * ky]; }
  function latlon(x, y) { return [lat0 - y / ky, lon0 + x / kx]; }
  function fmt(v) { return String(Math.round(v * 1e7) / 1e7); }
  function parsePoint(s) {
    var p = s.split(/[\s,]+/).filter(Boolean);
    if (p.length !== 2) { return null; }
    var a = Number(p[0]), b = Number(p[1]);
    return isFinite(a) && isFinite(b) ? [a, b] : null;
  }
  function vertices(key) {
    return value(key + '_vertices').split('\n').map(parsePoint).filter(Boolean);
  }
  function setVertices(key, pts) {
    field(key + '_vertices').value = pts.map(function (p) { return fmt(p[0]) + ', ' + fmt(p[1]); }).join('\n');
  }
  function slots() {
    var out = [];
    var n = Number(value('fence_count')) || 0;
    for (var i = 0; i < n; i++) {
      var key = 'f' + i;
      var rm = field(key + '_remove');
      if (rm && rm.checked) { continue; }
      out.push({ key: key, kind: value(key + '_type') });
    }
    var k = value('new_type');
    if (k === 'polygon' || k === 'circle') { out.push({ key: 'new', kind: k }); }
    return out;
  }
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (a) { e.setAttribute(a, attrs[a]); });
    return e;
  }
  function handle(x, y, key, what) {
    return el('circle', { cx: x, cy: y, r: handleR, fill: '#fff', stroke: '#e36209',
      'stroke-width': handleR / 3, 'class': 'handle', 'data-key': key, 'data-what': what,
      'data-testid': 'map-handle' });
  }

  function render() {
    var tol = Math.max(0, Number(value('tolerance_m')) || 0);
    drawn.setAttribute('display', 'none');
    while (live.firstChild) { live.removeChild(live.firstChild); }
    slots().forEach(function (s) {
      if (s.kind === 'circle') {
        var c = parsePoint(value(s.key + '_center'));
        var r = Number(value(s.key + '_radius'));
        if (!c || !(r > 0)) { return; }
        var p = xy(c[0], c[1]);
        if (tol > 0) { live.appendChild(el('circle', { cx: p[0], cy: p[1], r: r + tol, fill: '#9ec5ea', 'fill-opacity': 0.35 })); }
        live.appendChild(el('circle', { cx: p[0], cy: p[1], r: r, fill: '#0b5cad', 'fill-opacity': 0.25,
          stroke: '#0b5cad', 'vector-effect': 'non-scaling-stroke', 'data-testid': 'map-live-fence' }));
        live.appendChild(handle(p[0], p[1], s.key, 'center'));
        live.appendChild(handle(p[0] + r, p[1], s.key, 'edge'));
        return;
      }
      var pts = vertices(s.key).map(function (v) { return xy(v[0], v[1]); });
      if (pts.length === 0) { return; }
      var d = pts.map(function (p, i) { return (i ? 'L' : 'M') + p[0].toFixed(2) + ' ' + p[1].toFixed(2); }).join(' ');
      if (pts.length > 2) { d += ' Z'; }
      if (tol > 0 && pts.length > 2) {
        live.appendChild(el('path', { d: d, fill: '#9ec5ea', 'fill-opacity': 0.35, stroke: '#9ec5ea',
          'stroke-opacity': 0.35, 'stroke-width': 2 * tol, 'stroke-linejoin': 'round' }));
      }
      live.appendChild(el('path', { d: d, fill: pts.length > 2 ? '#0b5cad' : 'none', 'fill-opacity': 0.25,
        stroke: '#0b5cad', 'vector-effect': 'non-scaling-stroke', 'data-testid': 'map-live-fence' }));
      pts.forEach(function (p, i) { live.appendChild(handle(p[0], p[1], s.key, 'v' + i)); });
    });
  }

  function svgPoint(ev) {
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var m = svg.getScreenCTM();
    if (!m) { return [0, 0]; }
    var q = pt.matrixTransform(m.inverse());
    return [q.x, q.y];
  }

  var dragging = null;
  var moved = false;
  svg.addEventListener('pointerdown', function (ev) {
    var t = ev.target;
    if (t.getAttribute && t.getAttribute('class') === 'handle') {
      dragging = { key: t.getAttribute('data-key'), what: t.getAttribute('data-what') };
      moved = false;
      svg.setPointerCapture(ev.pointerId);
      ev.preventDefault();
    }
  });
  svg.addEventListener('pointermove', function (ev) {
    if (!dragging) { return; }
    moved = true;
    var p = svgPoint(ev);
    var ll = latlon(p[0], p[1]);
    var k = dragging.key;
    if (dragging.what === 'center') {
      field(k + '_center').value = fmt(ll[0]) + ', ' + fmt(ll[1]);
    } else if (dragging.what === 'edge') {
      var c = parsePoint(value(k + '_center'));
      if (c) {
        var cp = xy(c[0], c[1]);
        field(k + '_radius').value = String(Math.max(1, Math.round(Math.hypot(p[0] - cp[0], p[1] - cp[1]))));
      }
    } else {
      var i = Number(dragging.what.slice(1));
      var pts = vertices(k);
      if (pts[i]) { pts[i] = ll; setVertices(k, pts); }
    }
    render();
  });
  svg.addEventListener('pointerup', function () {
    if (dragging) { dragging = null; changed(); }
  });
  svg.addEventListener('click', function (ev) {
    if (moved) { moved = false; return; }
    if (ev.target.getAttribute && ev.target.getAttribute('class') === 'handle') { return; }
    var p = svgPoint(ev);
    var ll = latlon(p[0], p[1]);
    var kind = field('new_type');
    if (kind.value === 'circle') {
      field('new_center').value = fmt(ll[0]) + ', ' + fmt(ll[1]);
      if (!(Number(value('new_radius')) > 0)) { field('new_radius').value = '30'; }
    } else {
      kind.value = 'polygon';
      var pts = vertices('new');
      pts.push(ll);
      setVertices('new', pts);
    }
    render();
    changed();
  });

  // The fence advisor, asked a moment after the last change.
  var timer = null;
  var asked = 0;
  function show(name, text) {
    var e = document.querySelector('[data-testid="advice-' + name + '"]');
    if (e) { e.textContent = text; }
  }
  function ask() {
    var n = ++asked;
    var body = new URLSearchParams(new FormData(form));
    var advisor = document.querySelector('[data-testid="advisor"]');
    if (advisor) { advisor.setAttribute('aria-busy', 'true'); }
    fetch(form.getAttribute('data-advice'), {
      method: 'POST', credentials: 'same-origin', body: body,
      headers: { 'X-CSRF-Token': value('csrf'), 'Content-Type': 'application/x-www-form-urlencoded' }
    }).then(function (r) { return r.json(); }).then(function (j) {
      if (n !== asked) { return; }
      var err = document.querySelector('[data-testid="advice-error"]');
      if (j.advice) {
        var a = j.advice;
        show('reviewed', a.reviewed + ' %'); show('accepted', a.accepted + ' %');
        show('rejected', a.rejected + ' %'); show('out-30', a.out_30 + ' %');
        show('out-100', a.out_100 + ' %'); show('out-200', a.out_200 + ' %');
        show('suggested', a.suggested_m ? a.suggested_m + ' m' : '–');
        err.hidden = true; err.textContent = '';
      } else if (j.errors) {
        err.textContent = j.errors.map(function (e) { return e.message; }).join(' ');
        err.hidden = false;
      }
      if (advisor) { advisor.setAttribute('aria-busy', 'false'); advisor.setAttribute('data-asked', String(n)); }
    }).catch(function () {
      if (advisor) { advisor.setAttribute('aria-busy', 'false'); }
    });
  }
  function changed() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(ask, 400);
  }
  form.addEventListener('input', function () { render(); changed(); });
  form.addEventListener('change', function () { render(); changed(); });
  render();
  changed();
}());
