// Express 4 and Koa 2, installed as aliases (devDependencies express4, koa2) so that the server
// suite runs against both majors. They ship no types of their own: the tests type them as the
// current major's (the API they use is the same).
declare module 'express4';
declare module 'koa2';
