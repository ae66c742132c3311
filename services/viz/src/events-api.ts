import { z } from "zod";
import type { RouteHandler } from "./context";
import { currentCursor, openEventFeed, type EventFeed } from "./event-bridge";
import { formatCursor, parseCursor } from "./event-cursor";
import { parseQuery } from "./query";
import { SseStream } from "./sse";

/**
 * GET /api/events: volume, derived and run messages as Server-Sent Events.
 * Each event's id is the stream position including it; a browser that
 * reconnects sends it back as Last-Event-ID and continues right after it.
 */
export const getEvents: RouteHandler = async (ctx, { req, res, url }) => {
  parseQuery(url, z.object({}));
  // each stream holds two JetStream consumers until the page goes: past the cap, a 503 naming it
  if (!ctx.sseCap.openFor(res)) return;
  const lastEventId = req.headers["last-event-id"];
  const from = typeof lastEventId === "string" && lastEventId !== "" ? parseCursor(lastEventId) : await currentCursor(ctx.nc);
  let feed: EventFeed | undefined;
  let closed = false;
  const stream = new SseStream(res, () => {
    closed = true;
    ctx.sseClients.delete(stream);
    void feed?.stop();
  });
  ctx.sseClients.add(stream);
  // Tells the page where it stands before any event, so a reconnect never replays history it did not ask for.
  stream.send({ event: "ready", id: formatCursor(from), data: { cursor: formatCursor(from) } });
  feed = await openEventFeed(
    ctx.nc,
    ctx.storage,
    from,
    (event, cursor) => {
      if (event) stream.send({ event: event.event, id: formatCursor(cursor), data: event });
    },
    ctx.logger,
  );
  if (closed) await feed.stop();
};
