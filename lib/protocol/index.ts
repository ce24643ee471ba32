export * from './limits';
export * from './events';
