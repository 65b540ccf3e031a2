// The Framecast playground's script: no framework, no build step. It reads its texts and limits from
// the page's JSON config block, lists this browser's jobs, sends /video commands (with an optional
// image, by file input or drag and drop), follows each unfinished job over server-sent events, and
// plays the finished video inline. Served with a strict Content-Security-Policy (script-src 'self').
/* global document, window, fetch, FormData, EventSource, File, createImageBitmap, crypto, URLSearchParams */
'use strict';

(function main() {
  const cfg = JSON.parse(document.getElementById('fc-config').textContent);
  const T = cfg.texts;
  const API = cfg.api;
  const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'blocked', 'undeliverable']);
  const followed = new Map();

  const $ = (id) => document.getElementById(id);
  const form = $('compose');
  const command = $('command');
  const fileInput = $('image');
  const drop = $('drop');
  const thumb = $('image-preview');
  const removeImage = $('image-remove');
  const imageNote = $('image-note');
  const formError = $('form-error');
  const submitButton = $('submit');
  const list = $('jobs');
  const empty = $('history-empty');
  const nameInput = $('name');
  // The storyboard this page works on: `?board=<id>` (shared by a link), else the session's own.
  const boardParam = new URLSearchParams(window.location.search).get('board');
  let boardId = boardParam && /^[A-Za-z0-9_-]{4,64}$/.test(boardParam) ? boardParam : '';
  let boardTimer = null;
  let chosen = null;
  let requestId = newRequestId();
  let thumbUrl = null;

  function fill(template, vars) {
    return String(template).replace(/\{(\w+)\}/g, (m, k) => (vars && vars[k] !== undefined ? String(vars[k]) : m));
  }
  function newRequestId() {
    return crypto.randomUUID().replace(/-/g, '');
  }
  function eta(seconds) {
    return seconds < 90 ? fill(T.eta_seconds, { n: Math.max(1, Math.round(seconds)) }) : fill(T.eta_minutes, { n: Math.round(seconds / 60) });
  }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'className') node.className = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children || []) if (c) node.append(c);
    return node;
  }
  function messageOf(body, fallbackId) {
    if (body && typeof body.message === 'string' && body.message !== '') return body.message;
    return T[fallbackId] || T.error_bad_request;
  }
  async function api(path, init) {
    const res = await fetch(API + path, Object.assign({ credentials: 'same-origin', headers: { Accept: 'application/json' } }, init || {}));
    let body = null;
    try {
      body = await res.json();
    } catch (_e) {
      body = null;
    }
    return { ok: res.ok, status: res.status, body };
  }
  function showError(text) {
    formError.textContent = text || '';
  }

  // --- the image: file input, drag and drop ----------------------------------------------------
  /** An image over the limit, drawn smaller and saved as JPEG until it fits (null if it never does). */
  async function shrink(file) {
    const bitmap = await createImageBitmap(file);
    let scale = Math.min(1, 2048 / Math.max(bitmap.width, bitmap.height));
    for (let i = 0; i < 8; i++) {
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(16, Math.round(bitmap.width * scale));
      canvas.height = Math.max(16, Math.round(bitmap.height * scale));
      const g = canvas.getContext('2d');
      g.fillStyle = '#fff';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.88));
      if (blob && blob.size <= cfg.maxImageBytes) return new File([blob], file.name.replace(/\.[A-Za-z0-9]+$/, '') + '.jpg', { type: 'image/jpeg' });
      scale *= 0.75;
    }
    return null;
  }
  async function setImage(file) {
    showError('');
    imageNote.textContent = '';
    if (file && !/^image\/(jpeg|png|webp)$/.test(file.type)) {
      showError(T.error_image_type);
      return;
    }
    if (file && file.size > cfg.maxImageBytes) {
      // Too large to send as it is: made smaller here (the server's limit is the HTTP body limit).
      let smaller = null;
      try {
        smaller = await shrink(file);
      } catch (_err) {
        smaller = null;
      }
      if (!smaller) {
        showError(fill(T.error_image_too_large, { mb: cfg.maxImageMb }));
        return;
      }
      imageNote.textContent = fill(T.image_resized, { mb: (smaller.size / 1048576).toFixed(2) });
      file = smaller;
    }
    chosen = file || null;
    if (thumbUrl) URL.revokeObjectURL(thumbUrl);
    thumbUrl = chosen ? URL.createObjectURL(chosen) : null;
    thumb.hidden = !chosen;
    removeImage.hidden = !chosen;
    if (chosen) {
      thumb.src = thumbUrl;
      thumb.alt = chosen.name;
    } else {
      thumb.removeAttribute('src');
      fileInput.value = '';
    }
  }
  fileInput.addEventListener('change', () => setImage(fileInput.files && fileInput.files[0]));
  removeImage.addEventListener('click', () => {
    setImage(null);
    fileInput.focus();
  });
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (file) setImage(file);
  });

  // --- sending ---------------------------------------------------------------------------------
  command.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = command.value.trim();
    if (text === '') {
      showError(T.error_empty);
      command.focus();
      return;
    }
    showError('');
    submitButton.disabled = true;
    submitButton.textContent = T.sending;
    const data = new FormData();
    data.append('text', text);
    data.append('requestId', requestId);
    if (boardId) data.append('board', boardId);
    if (nameInput.value.trim() !== '') data.append('name', nameInput.value.trim());
    if (chosen) data.append('image', chosen, chosen.name);
    try {
      const res = await api('/jobs', { method: 'POST', body: data });
      if (res.body && res.body.status === 'collab') {
        // A storyboard command: its answer, the board, and (for a render) the starter's video job.
        requestId = newRequestId();
        if (res.ok) {
          command.value = '';
          setImage(null);
        } else {
          showError(messageOf(res.body, 'error_bad_request'));
        }
        $('board-note').textContent = res.ok ? messageOf(res.body, 'board_none') : '';
        if (!boardId && res.body.boardId) setBoardLink(res.body.boardId);
        if (res.body.board) showBoard(res.body.board);
        else refreshBoard();
        if (res.body.jobId) openJob(res.body.jobId);
        refreshCredits();
      } else if (res.ok && res.body && res.body.job) {
        requestId = newRequestId();
        command.value = '';
        setImage(null);
        render(res.body.job);
        follow(res.body.job);
        refreshCredits();
      } else {
        showError(messageOf(res.body, res.status === 401 ? 'error_session' : res.status === 403 ? 'error_forbidden' : 'error_bad_request'));
        // A refusal is final for this request id: the next try is a new request.
        if (res.status !== 401 && res.status < 500) requestId = newRequestId();
      }
    } catch (_err) {
      showError(T.error_network);
    } finally {
      submitButton.disabled = false;
      submitButton.textContent = T.submit;
    }
  });

  // --- jobs --------------------------------------------------------------------------------------
  function card(jobId) {
    let node = document.getElementById('job-' + jobId);
    if (node) return node;
    const status = el('p', { className: 'status', role: 'status', id: 'status-' + jobId });
    const bar = el('progress', { className: 'bar', max: 1, value: 0, 'aria-label': T.progress_label, hidden: true });
    const preview = el('img', { className: 'preview', hidden: true, alt: '' });
    const media = el('div', { className: 'media' });
    const actions = el('div', { className: 'actions' });
    const notice = el('p', { className: 'error', role: 'alert' });
    node = el('li', { className: 'job', id: 'job-' + jobId, 'data-job': jobId }, [
      el('div', { className: 'bubble user' }, [el('p', { className: 'prompt' }), el('p', { className: 'meta' })]),
      el('div', { className: 'bubble bot' }, [status, bar, preview, media, actions, notice]),
    ]);
    list.append(node);
    empty.hidden = true;
    return node;
  }
  function statusOf(job) {
    switch (job.state) {
      case 'queued':
        return job.position ? fill(T.state_queued, { position: job.position, eta: eta(job.etaSeconds || 0) }) : T.state_waiting;
      case 'active':
        return T.state_started;
      case 'review':
        return T.state_review;
      case 'succeeded':
        return T.state_delivered;
      case 'cancelled':
        return T.state_cancelled;
      default:
        return T.state_failed;
    }
  }
  function button(label, className, onClick) {
    const b = el('button', { type: 'button', className, text: label });
    b.addEventListener('click', onClick);
    return b;
  }
  function render(job) {
    const node = card(job.jobId);
    node.dataset.state = job.state;
    node.querySelector('.prompt').textContent = job.prompt;
    node.querySelector('.meta').textContent = job.summary[cfg.locale] || job.summary.en;
    const status = node.querySelector('.status');
    if (!node.dataset.live || FINAL.has(job.state) || job.state === 'review') status.textContent = statusOf(job);
    const bar = node.querySelector('.bar');
    const preview = node.querySelector('.preview');
    if (FINAL.has(job.state) || job.state === 'review') {
      bar.hidden = true;
      preview.hidden = true;
    }
    const media = node.querySelector('.media');
    const actions = node.querySelector('.actions');
    if (job.video && !media.querySelector('video')) {
      const video = el('video', {
        controls: true, playsinline: true, preload: 'auto', src: job.video.url, poster: job.video.posterUrl,
        width: job.video.width, height: job.video.height, 'aria-label': fill(T.video_label, { prompt: job.prompt }),
      });
      media.replaceChildren(video);
    }
    actions.replaceChildren();
    if (job.state === 'queued' || job.state === 'active') {
      actions.append(button(T.button_cancel, 'cancel', () => act(job, 'cancel')));
    }
    if (job.state === 'succeeded') {
      actions.append(button(T.button_reroll, 'reroll', () => act(job, 'reroll')));
      if (job.spec.mode === 'draft') actions.append(button(T.button_upscale, 'upscale', () => act(job, 'upscale')));
      if (job.video) actions.append(el('a', { className: 'download', href: job.video.downloadUrl, download: 'framecast-' + job.jobId + '.mp4', text: T.button_download }));
    }
  }
  function onProgress(jobId, e) {
    const node = card(jobId);
    node.dataset.live = '1';
    const status = node.querySelector('.status');
    const bar = node.querySelector('.bar');
    const preview = node.querySelector('.preview');
    switch (e.type) {
      case 'queued':
        // A replayed place in line is old news once the job runs.
        if (node.dataset.state && node.dataset.state !== 'queued') break;
        // Position 0: already taken by a worker (its `started` follows).
        status.textContent = e.position > 0 ? fill(T.state_queued, { position: e.position, eta: eta(e.etaSeconds) }) : T.state_waiting;
        break;
      case 'started':
        status.textContent = T.state_started;
        break;
      case 'step':
        status.textContent = fill(T.state_step, { step: e.step, total: e.totalSteps });
        bar.hidden = false;
        bar.max = e.totalSteps;
        bar.value = e.step;
        bar.setAttribute('aria-valuetext', fill(T.state_step, { step: e.step, total: e.totalSteps }));
        if (e.previewUrl) {
          preview.hidden = false;
          preview.src = e.previewUrl;
          preview.alt = fill(T.preview_alt, { step: e.step });
        }
        break;
      case 'encoding':
        // The bar stays full and the last preview stays up until the video replaces them.
        status.textContent = e.phase === 'scanning' ? T.state_scanning : T.state_encoding;
        bar.value = bar.max;
        break;
      case 'review':
        status.textContent = T.state_review;
        break;
      case 'ready':
        status.textContent = T.state_ready;
        break;
      case 'delivered':
        status.textContent = T.state_delivered;
        break;
      case 'failed':
      case 'cancelled':
        status.textContent = (e.message && e.message[cfg.locale]) || (e.type === 'failed' ? T.state_failed : T.state_cancelled);
        break;
      default:
        break;
    }
  }
  function follow(job) {
    if (FINAL.has(job.state) || followed.has(job.jobId)) return;
    const es = new EventSource(API + '/jobs/' + encodeURIComponent(job.jobId) + '/events');
    followed.set(job.jobId, es);
    const stop = () => {
      es.close();
      followed.delete(job.jobId);
    };
    es.addEventListener('job', (m) => {
      const view = JSON.parse(m.data);
      render(view);
      if (FINAL.has(view.state)) {
        stop();
        // Charged or refunded by now.
        refreshCredits();
      }
    });
    es.addEventListener('progress', (m) => onProgress(job.jobId, JSON.parse(m.data)));
  }
  async function act(job, what) {
    const node = card(job.jobId);
    const notice = node.querySelector('.actions + p');
    notice.textContent = '';
    for (const b of node.querySelectorAll('.actions button')) b.disabled = true;
    const id = node.dataset.nonce || newRequestId();
    node.dataset.nonce = id;
    try {
      const res = await api('/jobs/' + encodeURIComponent(job.jobId) + '/' + what, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: what === 'cancel' ? '{}' : JSON.stringify({ requestId: id }),
      });
      notice.className = res.ok ? 'notice' : 'error';
      notice.setAttribute('role', res.ok ? 'status' : 'alert');
      if (!res.ok) notice.textContent = messageOf(res.body, 'error_bad_request');
      if (what !== 'cancel' && res.body && res.body.job) {
        // A later click is a new request; a double click stayed one.
        node.dataset.nonce = newRequestId();
        render(res.body.job);
        follow(res.body.job);
        refreshCredits();
        document.getElementById('job-' + res.body.job.jobId).scrollIntoView({ block: 'nearest' });
      }
      if (what === 'cancel' && res.ok) {
        notice.textContent = messageOf(res.body, 'state_cancelled');
        refreshCredits();
      }
    } catch (_err) {
      notice.textContent = T.error_network;
    } finally {
      for (const b of node.querySelectorAll('.actions button')) b.disabled = false;
    }
  }
  // --- the storyboard ---------------------------------------------------------------------------
  function setBoardLink(id) {
    const link = $('board-link');
    const url = new URL(window.location.href);
    url.search = '?board=' + encodeURIComponent(id);
    link.href = url.pathname + url.search;
    link.textContent = url.href;
    link.dataset.board = id;
  }
  // The board's forms and buttons send the same storyboard commands as the prompt box.
  const startForm = $('board-start');
  const addForm = $('board-add');
  const shotText = $('shot-text');
  const shotImage = $('shot-image');
  const starterBar = $('board-starter');
  const confirmBox = $('board-confirm');
  const boardError = $('board-error');
  const OPEN = new Set(['collecting', 'locked', 'rendering']);
  let current = null;
  let shownKey = '';
  let editing = 0;
  // The shot button last pressed: its focus comes back after the list is rebuilt (a disabled button loses it).
  let pressed = null;
  // A vote's request id per shot: a double click, or a retry after a lost answer, stays one vote.
  const voteIds = new Map();

  function currentBoardId() {
    return boardId || $('board-link').dataset.board || '';
  }
  /**
   * Sends one storyboard command for this board; shows the answer (a refusal to this user only).
   * true: done; false: refused (final for its request id); null: no answer (a retry may reuse the id).
   */
  async function collabSend(text, opts) {
    const o = opts || {};
    boardError.textContent = '';
    const buttons = o.buttons || [];
    for (const b of buttons) b.disabled = true;
    const data = new FormData();
    data.append('text', text);
    data.append('requestId', o.requestId || newRequestId());
    const id = currentBoardId();
    if (id) data.append('board', id);
    if (nameInput.value.trim() !== '') data.append('name', nameInput.value.trim());
    if (o.image) data.append('image', o.image, o.image.name);
    try {
      const res = await api('/jobs', { method: 'POST', body: data });
      const body = res.body || {};
      if (body.status !== 'collab') {
        boardError.textContent = messageOf(body, res.status === 401 ? 'error_session' : res.status === 403 ? 'error_forbidden' : 'error_bad_request');
        return res.status === 401 || res.status >= 500 ? null : false;
      }
      if (res.ok) $('board-note').textContent = messageOf(body, 'board_none');
      else boardError.textContent = messageOf(body, 'error_bad_request');
      if (body.boardId && !boardId) adoptBoard(body.boardId);
      if (body.board) showBoard(body.board);
      else refreshBoard();
      if (body.jobId) openJob(body.jobId);
      refreshCredits();
      return res.ok;
    } catch (_err) {
      boardError.textContent = T.error_network;
      return null;
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }
  /** This page now works on board `id`: the share link and the page's own address say so. */
  function adoptBoard(id) {
    boardId = id;
    setBoardLink(id);
    try {
      window.history.replaceState(null, '', '?board=' + encodeURIComponent(id));
    } catch (_err) {
      // The link below says it anyway.
    }
  }
  function segmentText(seg) {
    if (seg.phase === 'step' && seg.step !== undefined) return fill(T.segment_step, { step: seg.step, total: seg.totalSteps || '?' });
    return T['segment_' + seg.phase] || '';
  }
  function shotItem(board, shot) {
    const label = fill(T.board_shot, { author: shot.authorName, text: shot.text, votes: shot.votes }) + (shot.hasImage ? T.shot_has_image : '') + (shot.inCut ? '' : T.board_cut);
    const li = el('li', { className: shot.inCut ? 'shot' : 'shot cut', 'data-n': shot.n }, [el('span', { className: 'shot-text', text: label })]);
    if (shot.segment) li.append(el('span', { className: 'segment', 'data-phase': shot.segment.phase, text: ' · ' + segmentText(shot.segment) }));
    if (board.state !== 'collecting') return li;
    const actions = el('span', { className: 'shot-actions' });
    const vote = el('button', { type: 'button', className: 'vote', 'data-action': 'vote', 'aria-label': fill(T.shot_vote, { n: shot.n }), 'aria-pressed': shot.voted ? 'true' : 'false', disabled: shot.voted, text: shot.voted ? T.shot_voted : T.shot_vote_button });
    vote.addEventListener('click', () => {
      pressed = { n: String(shot.n), action: 'vote' };
      if (!voteIds.has(shot.id)) voteIds.set(shot.id, newRequestId());
      collabSend('vote ' + shot.n, { requestId: voteIds.get(shot.id), buttons: [vote] }).then((r) => {
        if (r !== null) voteIds.delete(shot.id);
      });
    });
    actions.append(vote);
    if (shot.voted) {
      const unvote = el('button', { type: 'button', className: 'unvote', 'data-action': 'unvote', 'aria-label': fill(T.shot_unvote, { n: shot.n }), text: T.shot_unvote_button });
      unvote.addEventListener('click', () => {
        pressed = { n: String(shot.n), action: 'unvote' };
        collabSend('unvote ' + shot.n, { buttons: [unvote] });
      });
      actions.append(unvote);
    }
    if (shot.mine) {
      const edit = el('button', { type: 'button', className: 'edit', 'data-action': 'edit', 'aria-label': fill(T.shot_edit, { n: shot.n }), text: T.shot_edit_button });
      edit.addEventListener('click', () => editShot(li, shot));
      const remove = el('button', { type: 'button', className: 'remove', 'data-action': 'remove', 'aria-label': fill(T.shot_remove, { n: shot.n }), text: T.shot_remove_button });
      remove.addEventListener('click', () => {
        pressed = { n: String(shot.n), action: 'remove' };
        collabSend('remove ' + shot.n, { buttons: [remove, edit] });
      });
      actions.append(edit, remove);
    }
    li.append(' ', actions);
    return li;
  }
  /** The shot's text as an inline form (Enter saves, Escape goes back). */
  function editShot(li, shot) {
    editing = shot.n;
    const inputId = 'shot-edit-' + shot.n;
    const input = el('input', { id: inputId, type: 'text', maxlength: 500, autocomplete: 'off', value: shot.text });
    const save = el('button', { type: 'submit', text: T.shot_save });
    const back = el('button', { type: 'button', text: T.shot_cancel_edit });
    const f = el('form', { className: 'shot-edit' }, [el('label', { for: inputId, text: fill(T.shot_edit_label, { n: shot.n }) }), input, save, back]);
    const done = () => {
      editing = 0;
      shownKey = '';
      if (current) showBoard(current);
      const again = document.querySelector('#board-shots li[data-n="' + shot.n + '"] .edit');
      if (again) again.focus();
    };
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (text === '' || text === shot.text) return done();
      if (await collabSend('edit ' + shot.n + ' ' + text, { buttons: [save, back] })) done();
    });
    back.addEventListener('click', done);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') done();
    });
    li.replaceChildren(f);
    input.focus();
  }
  function showBoard(board) {
    const shots = $('board-shots');
    current = board && OPEN.has(board.state) ? board : null;
    startForm.hidden = current !== null;
    addForm.hidden = !current || current.state !== 'collecting';
    starterBar.hidden = !current || !current.youStarted;
    if (!current) {
      $('board-meta').textContent = T.board_none;
      confirmBox.hidden = true;
      shots.replaceChildren();
      shownKey = '';
      return;
    }
    $('board-meta').textContent = fill(T.board_meta, { theme: board.theme || '—', state: board.state, shots: board.shots.length, cost: board.cost, eta: eta(board.etaSeconds || 0) });
    $('board-lock').hidden = board.state !== 'collecting';
    $('board-unlock').hidden = board.state !== 'locked';
    $('board-render').hidden = board.state === 'rendering';
    if (board.state === 'rendering') confirmBox.hidden = true;
    // Rebuilt only when it changed and nobody edits a shot here; the focused button keeps its focus.
    const key = JSON.stringify([board.state, board.shots]);
    if (key !== shownKey && editing === 0) {
      shownKey = key;
      const focused = document.activeElement;
      const li = focused && focused.closest ? focused.closest('#board-shots li') : null;
      const idle = !focused || focused === document.body;
      const again = li ? { n: li.dataset.n, action: focused.dataset.action } : idle ? pressed : null;
      pressed = null;
      shots.replaceChildren(...board.shots.map((shot) => shotItem(board, shot)));
      if (again && again.action) {
        // The same button on the same shot, else another of its buttons, else the shot form (after
        // a vote: the shot form, not the vote's own take-back).
        const row = shots.querySelector('li[data-n="' + again.n + '"]');
        const same = row && row.querySelector('[data-action="' + again.action + '"]');
        const target = same && !same.disabled ? same : again.action === 'vote' ? null : row && row.querySelector('button:not([disabled])');
        if (target) target.focus();
        else if (!addForm.hidden) shotText.focus();
      }
    }
    if (board.jobId) openJob(board.jobId);
  }
  startForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    let text = '/video collab start ' + $('board-theme').value.trim().replace(/\s+/g, ' ');
    if ($('board-style').value) text += ' --style ' + $('board-style').value;
    text += ' --aspect ' + $('board-aspect').value;
    const seconds = $('board-duration').value.trim();
    if (/^\d{1,2}$/.test(seconds)) text += ' --duration ' + seconds;
    if ($('board-draft').checked) text += ' --draft';
    if (await collabSend(text, { buttons: [$('board-start-submit')] })) shotText.focus();
  });
  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = shotText.value.trim();
    if (text === '') {
      boardError.textContent = T.error_empty;
      shotText.focus();
      return;
    }
    let image = shotImage.files && shotImage.files[0];
    if (image && !/^image\/(jpeg|png|webp)$/.test(image.type)) {
      boardError.textContent = T.error_image_type;
      return;
    }
    if (image && image.size > cfg.maxImageBytes) {
      image = await shrink(image).catch(() => null);
      if (!image) {
        boardError.textContent = fill(T.error_image_too_large, { mb: cfg.maxImageMb });
        return;
      }
    }
    if (!addForm.dataset.requestId) addForm.dataset.requestId = newRequestId();
    const ok = await collabSend('add ' + text, { image, requestId: addForm.dataset.requestId, buttons: [$('shot-submit')] });
    // An answer, even a refusal, is final for its request id: the next try is a new request.
    if (ok !== null) delete addForm.dataset.requestId;
    if (ok) {
      shotText.value = '';
      shotImage.value = '';
    }
    shotText.focus();
  });
  $('board-lock').addEventListener('click', (e) => collabSend('/video collab lock', { buttons: [e.currentTarget] }));
  $('board-unlock').addEventListener('click', (e) => collabSend('/video collab unlock', { buttons: [e.currentTarget] }));
  $('board-close').addEventListener('click', (e) => collabSend('/video collab cancel', { buttons: [e.currentTarget] }));
  $('board-render').addEventListener('click', () => {
    if (!current) return;
    const cut = current.shots.filter((s) => s.inCut).length;
    $('board-confirm-text').textContent = fill(T.board_render_ask, { shots: cut, cost: current.cost, yours: current.yourCost, eta: eta(current.etaSeconds || 0) });
    confirmBox.hidden = false;
    confirmBox.dataset.requestId = newRequestId();
    $('board-render-confirm').focus();
  });
  $('board-render-back').addEventListener('click', () => {
    confirmBox.hidden = true;
    $('board-render').focus();
  });
  $('board-render-confirm').addEventListener('click', async (e) => {
    const ok = await collabSend('/video collab render', { requestId: confirmBox.dataset.requestId, buttons: [e.currentTarget, $('board-render-back')] });
    if (ok) confirmBox.hidden = true;
    else if (ok === false) confirmBox.dataset.requestId = newRequestId();
  });
  async function refreshBoard() {
    const id = $('board-link').dataset.board;
    if (!id) return;
    try {
      const res = await api('/boards/' + encodeURIComponent(id));
      if (res.ok) showBoard(res.body.board);
    } catch (_err) {
      // Tried again on the next tick.
    }
  }
  /** The render's job, when it is this session's (the starter's): shown in the history and followed. */
  const opened = new Set();
  async function openJob(jobId) {
    if (opened.has(jobId) || document.getElementById('job-' + jobId)) return;
    opened.add(jobId);
    try {
      const res = await api('/jobs/' + encodeURIComponent(jobId));
      if (res.ok && res.body && !document.getElementById('job-' + jobId)) {
        render(res.body);
        follow(res.body);
      }
    } catch (_err) {
      // Someone else's render: not in this history.
    }
  }
  async function startBoard() {
    if (!boardId) {
      const me = await api('/me').catch(() => null);
      if (me && me.ok) setBoardLink(me.body.userId);
    } else {
      setBoardLink(boardId);
    }
    await refreshBoard();
    if (!boardTimer) boardTimer = window.setInterval(refreshBoard, 3000);
  }
  async function refreshCredits() {
    try {
      const res = await api('/me');
      if (res.ok) $('credits').textContent = fill(T.credits, { left: res.body.credits.available, limit: res.body.credits.daily });
    } catch (_err) {
      // The credits line is informative only.
    }
  }
  async function load() {
    try {
      const res = await api('/jobs');
      if (!res.ok) {
        showError(messageOf(res.body, res.status === 401 ? 'error_session' : 'error_network'));
        return;
      }
      const jobs = res.body.jobs.slice().reverse();
      for (const job of jobs) render(job);
      for (const job of jobs) follow(job);
      document.body.dataset.ready = '1';
    } catch (_err) {
      showError(T.error_network);
    }
  }
  window.addEventListener('pageshow', () => command.focus());
  refreshCredits();
  load();
  startBoard();
})();
