/**
 * The routes of the mini program API (a public contract: the mini program calls exactly these).
 * Every route but login needs `Authorization: Bearer <token>`; the video and poster also take a
 * signed link (`?exp=…&sig=…`) instead, for the `<video>`/`<image>` components, which send no headers.
 */
export const MP_ROUTES = {
  login: { method: 'POST', path: '/api/mp/login' },
  logout: { method: 'POST', path: '/api/mp/logout' },
  me: { method: 'GET', path: '/api/mp/me' },
  upload: { method: 'POST', path: '/api/mp/uploads' },
  createJob: { method: 'POST', path: '/api/mp/jobs' },
  listJobs: { method: 'GET', path: '/api/mp/jobs' },
  job: { method: 'GET', path: '/api/mp/jobs/:id' },
  jobEvents: { method: 'GET', path: '/api/mp/jobs/:id/events' },
  cancelJob: { method: 'POST', path: '/api/mp/jobs/:id/cancel' },
  jobMedia: { method: 'GET', path: '/api/mp/jobs/:id/media' },
  video: { method: 'GET', path: '/api/mp/jobs/:id/video' },
  poster: { method: 'GET', path: '/api/mp/jobs/:id/poster' },
  publish: { method: 'POST', path: '/api/mp/jobs/:id/publish' },
  unpublish: { method: 'POST', path: '/api/mp/jobs/:id/unpublish' },
  unpublishDelete: { method: 'DELETE', path: '/api/mp/jobs/:id/publish' },
  gallery: { method: 'GET', path: '/api/mp/gallery' },
  like: { method: 'POST', path: '/api/mp/gallery/:id/like' },
  report: { method: 'POST', path: '/api/mp/gallery/:id/report' },
  /** Admins: put back an item that reports took out (list them with `GET /api/mp/gallery?sort=hidden`). */
  restore: { method: 'POST', path: '/api/mp/gallery/:id/restore' },
  /** The nickname the storyboards' credits show (else a short masked id). */
  nickname: { method: 'GET', path: '/api/mp/me/nickname' },
  setNickname: { method: 'PUT', path: '/api/mp/me/nickname' },
  /** Collaborative storyboards: knowing a board's id (the share card's) lets a user read and add to it. */
  createBoard: { method: 'POST', path: '/api/mp/boards' },
  board: { method: 'GET', path: '/api/mp/boards/:id' },
  boardEvents: { method: 'GET', path: '/api/mp/boards/:id/events' },
  boardMedia: { method: 'GET', path: '/api/mp/boards/:id/media' },
  addShot: { method: 'POST', path: '/api/mp/boards/:id/shots' },
  editShot: { method: 'PATCH', path: '/api/mp/boards/:id/shots/:n' },
  /** The same as editShot, for wx.request (which has no PATCH). */
  editShotPost: { method: 'POST', path: '/api/mp/boards/:id/shots/:n' },
  removeShot: { method: 'DELETE', path: '/api/mp/boards/:id/shots/:n' },
  vote: { method: 'POST', path: '/api/mp/boards/:id/votes' },
  reorder: { method: 'POST', path: '/api/mp/boards/:id/reorder' },
  render: { method: 'POST', path: '/api/mp/boards/:id/render' },
  lock: { method: 'POST', path: '/api/mp/boards/:id/lock' },
  unlock: { method: 'POST', path: '/api/mp/boards/:id/unlock' },
  cancelBoard: { method: 'POST', path: '/api/mp/boards/:id/cancel' },
} as const;

export type MpRouteName = keyof typeof MP_ROUTES;

/**
 * The routes WeChat's servers call (message push, plaintext mode): not the mini program's. Each
 * request is signed with WECHAT_PUSH_TOKEN (`?signature&timestamp&nonce`).
 */
export const MP_PUSH_ROUTES = {
  /** WeChat's check of the push URL: answers `echostr`. */
  pushCheck: { method: 'GET', path: '/api/mp/wechat/push' },
  /** Events, among them `wxa_media_check` (the verdict of an image check). */
  push: { method: 'POST', path: '/api/mp/wechat/push' },
} as const;
